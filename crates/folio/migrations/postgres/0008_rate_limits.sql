-- Rate limit counts shared by the instances of one catalog: hits of a scope ("ip:<address>",
-- "key:<public key>") in a fixed window starting at window_start (Unix seconds). Old windows
-- are deleted by the sweeper. (The embedded catalog counts in memory: it has one instance.)
CREATE TABLE rate_counters (
    scope        TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    hits         BIGINT NOT NULL,
    PRIMARY KEY (scope, window_start)
);
