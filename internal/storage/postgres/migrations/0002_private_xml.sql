-- Private XML storage (XEP-0049): one serialized fragment per owner and
-- namespace.

CREATE TABLE private_xml (
	owner text COLLATE "C" NOT NULL,
	ns    text COLLATE "C" NOT NULL,
	data  bytea NOT NULL,
	PRIMARY KEY (owner, ns)
);
