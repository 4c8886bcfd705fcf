-- tandem-broker store, version 3: desktops the broker provisions from its pools' templates.
-- The row is written before the domain is defined, with provision_state saying what is under
-- way, so a broker killed mid-way finds (and finishes or undoes) its work on its next start.

-- provisioned: made by the broker from the pool's template (it may remove and remake it);
-- 0: an operator's desktop, which the broker only power-cycles.
ALTER TABLE desktops ADD COLUMN provisioned INTEGER NOT NULL DEFAULT 0 CHECK (provisioned IN (0, 1));
-- done: usable; provisioning: the row is reserved, the domain is being defined and started;
-- reset-pending: a floating desktop freed by logoff or disconnect, to be reset to its template;
-- resetting: that reset under way; removing: a surplus desktop being removed.
ALTER TABLE desktops ADD COLUMN provision_state TEXT NOT NULL DEFAULT 'done'
        CHECK (provision_state IN ('done', 'provisioning', 'reset-pending', 'resetting', 'removing'));
ALTER TABLE desktops ADD COLUMN mac TEXT NOT NULL DEFAULT '';       -- the first interface's, kept across resets
ALTER TABLE desktops ADD COLUMN overlays TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(overlays)); -- paths
ALTER TABLE desktops ADD COLUMN provision_time INTEGER;             -- when provision_state last changed
ALTER TABLE desktops ADD COLUMN reset_cause TEXT NOT NULL DEFAULT ''; -- logoff, disconnect-limit

CREATE INDEX desktops_provision ON desktops(provision_state) WHERE provision_state != 'done';
-- When a desktop's sessions last ended (the floating pools' disconnect limit), without a scan.
CREATE INDEX sessions_desktop_end ON sessions(desktop_id, end);

-- max_size is the last line here, too: no insert takes a pool past it, whoever inserts.
CREATE TRIGGER desktops_max_size BEFORE INSERT ON desktops
        WHEN (SELECT max_size FROM pools WHERE id = NEW.pool_id) > 0
             AND (SELECT count(*) FROM desktops WHERE pool_id = NEW.pool_id)
                 >= (SELECT max_size FROM pools WHERE id = NEW.pool_id)
BEGIN
        SELECT RAISE(ABORT, 'pool is at its max_size');
END;
