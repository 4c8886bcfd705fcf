-- tandem-broker store, version 4:
-- power requests for a guest's agent (a graceful reboot or shutdown), which only hostd can
-- deliver. hostd's report answer carries the pending ones of its host; its next report says how
-- each ended. A request is done once an outcome is in, and expired (never handed out again)
-- once `expires' has passed without one.

CREATE TABLE power_requests (
        id INTEGER PRIMARY KEY,
        desktop_id INTEGER NOT NULL REFERENCES desktops(id) ON DELETE CASCADE,
        action TEXT NOT NULL CHECK (action IN ('reboot', 'shutdown')),
        requester TEXT NOT NULL,           -- the actor: "hang-detector", "user:alice", ...
        created INTEGER NOT NULL,
        expires INTEGER NOT NULL,
        outcome TEXT CHECK (outcome IN ('ok', 'failed', 'no-agent')), -- NULL: pending
        detail TEXT NOT NULL DEFAULT '',
        done INTEGER                       -- when the outcome came
);
-- At most one open request per desktop: the agent runs one power request at a time.
CREATE UNIQUE INDEX power_requests_open ON power_requests(desktop_id) WHERE outcome IS NULL;
-- The last request an agent accepted, per desktop: the hang detector reads it on every pass (the
-- agent's silence while its guest reboots on request is not a hang).
CREATE INDEX power_requests_done ON power_requests(desktop_id, outcome, done);
