-- Private XML storage (XEP-0049): one serialized fragment per owner and
-- namespace.

CREATE TABLE private_xml (
	owner TEXT NOT NULL,
	ns    TEXT NOT NULL,
	data  BLOB NOT NULL,
	PRIMARY KEY (owner, ns)
) WITHOUT ROWID;
