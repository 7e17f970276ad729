-- Workflow engine storage. One SQLite database per sidecar (per app id), WAL journal.
-- Times are UTC seconds since the epoch (REAL). Events and requests are serialized protobuf.

-- One row per workflow instance, active or terminal, until it is purged.
CREATE TABLE IF NOT EXISTS instances (
    instance_id        TEXT PRIMARY KEY,
    execution_id       TEXT NOT NULL,
    name               TEXT NOT NULL,
    status             INTEGER NOT NULL,
    created_at         REAL NOT NULL,
    last_updated_at    REAL NOT NULL,
    started_at         REAL,
    completed_at       REAL,
    scheduled_start_at REAL,
    input              TEXT,
    output             TEXT,
    custom_status      TEXT,
    failure            BLOB,
    parent_instance_id TEXT,
    parent_execution_id TEXT,
    parent_task_id     INTEGER,
    parent_name        TEXT,
    parent_app_id      TEXT  -- the parent's app, when it runs in another app
);
CREATE INDEX IF NOT EXISTS instances_by_created ON instances (created_at, instance_id);
CREATE INDEX IF NOT EXISTS instances_by_status ON instances (status, created_at);

-- The committed history of the current execution of each instance, in order.
CREATE TABLE IF NOT EXISTS history (
    instance_id TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    event       BLOB NOT NULL,
    PRIMARY KEY (instance_id, seq)
) WITHOUT ROWID;

-- Events not yet handed to their orchestration: raised events, task results, timers
-- (visible from their fire time) and delayed starts. execution_id binds an event to the
-- execution that caused it, so continue-as-new can drop stale timers and results.
CREATE TABLE IF NOT EXISTS inbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id  TEXT NOT NULL,
    execution_id TEXT,
    visible_at   REAL NOT NULL,
    event        BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_by_instance ON inbox (instance_id, id);

-- Activities scheduled and not yet completed. reply_app_id names the app whose workflow
-- scheduled a cross-app activity (instance_id is then that app's instance); NULL for ours.
CREATE TABLE IF NOT EXISTS activities (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id  TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    request      BLOB NOT NULL,
    reply_app_id TEXT
);
CREATE INDEX IF NOT EXISTS activities_by_instance ON activities (instance_id);

-- Messages for other apps' sidecars (cross-app activities, children and their results),
-- each a serialized durabletask backend WorkflowMessage, until that sidecar has taken it.
CREATE TABLE IF NOT EXISTS outbox (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id  TEXT NOT NULL,
    message BLOB NOT NULL
);
