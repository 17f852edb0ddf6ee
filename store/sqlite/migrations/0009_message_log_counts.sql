-- How many entries the message log holds per charger, kept by AppendLog
-- in the same transaction as its inserts and trims. Trimming to "keep"
-- then deletes just the excess instead of finding the keep-th newest entry
-- of every charger in every flush (work that grew with the log).
CREATE TABLE message_log_counts (
    charger_id TEXT    NOT NULL PRIMARY KEY,
    n          INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

INSERT INTO message_log_counts (charger_id, n)
    SELECT charger_id, count(*) FROM message_log GROUP BY charger_id;
