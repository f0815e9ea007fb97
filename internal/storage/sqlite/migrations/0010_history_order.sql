-- PostgreSQL's 0010 makes its history indexes end in id, for the (first_at,
-- id) order of pages; SQLite's indexes end in the rowid already. Nothing to
-- do here: the file keeps both backends' versions in step.
SELECT 1;
