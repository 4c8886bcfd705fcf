-- tandem-broker store, version 2: what hostd reports per desktop, kept apart so the hang
-- detector can weigh each signal on its own, and the last thumbnail.

ALTER TABLE desktops ADD COLUMN libvirt_state TEXT NOT NULL DEFAULT '';       -- as hostd reported it
ALTER TABLE desktops ADD COLUMN state_changed INTEGER;                         -- when power_state last changed
ALTER TABLE desktops ADD COLUMN report_time INTEGER;                           -- last report naming it
ALTER TABLE desktops ADD COLUMN cpu_time_ns INTEGER;                           -- vCPU time, cumulative
ALTER TABLE desktops ADD COLUMN cpu_time_changed INTEGER;                      -- when it last grew
ALTER TABLE desktops ADD COLUMN display_frames INTEGER;                        -- frames seen, cumulative
ALTER TABLE desktops ADD COLUMN display_changed INTEGER;                       -- when the screen last changed
ALTER TABLE desktops ADD COLUMN input_time INTEGER;                            -- last input sent to it
ALTER TABLE desktops ADD COLUMN agent_state TEXT NOT NULL DEFAULT 'absent'
        CHECK (agent_state IN ('absent', 'active', 'lost'));
ALTER TABLE desktops ADD COLUMN agent_heartbeat INTEGER;                       -- last heartbeat
ALTER TABLE desktops ADD COLUMN logged_on_user TEXT NOT NULL DEFAULT '';
ALTER TABLE desktops ADD COLUMN libvirt_timeouts INTEGER NOT NULL DEFAULT 0;   -- calls that timed out, cumulative

ALTER TABLE hosts ADD COLUMN viewers_tcp INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hosts ADD COLUMN viewers_udp INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hosts ADD COLUMN rtt_ms REAL;
ALTER TABLE hosts ADD COLUMN loss_ratio REAL;
ALTER TABLE hosts ADD COLUMN bytes_sent INTEGER NOT NULL DEFAULT 0;

CREATE TABLE thumbnails (
        desktop_id INTEGER PRIMARY KEY REFERENCES desktops(id) ON DELETE CASCADE,
        time INTEGER NOT NULL,
        jpeg BLOB NOT NULL
);
