-- tandem-broker store, version 1: the fleet (hosts, pools, desktops), people (users, tokens),
-- what happened (sessions, events). Times are Unix seconds (UTC). Names are checked by the
-- broker before they get here; the CHECKs below are the last line, not the first.

CREATE TABLE hosts (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 63),
        libvirt_uri TEXT NOT NULL,
        hostd_address TEXT NOT NULL,          -- NAME:PORT or [IPV6]:PORT, what viewers dial
        fingerprint TEXT NOT NULL DEFAULT '', -- SHA-256 of hostd's certificate, 64 hex digits or ''
        capacity INTEGER NOT NULL DEFAULT 0 CHECK (capacity >= 0),
        state TEXT NOT NULL DEFAULT 'unknown' CHECK (state IN ('unknown', 'up', 'down', 'maintenance')),
        last_report INTEGER                   -- NULL: never reported
);

CREATE TABLE pools (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 63),
        kind TEXT NOT NULL CHECK (kind IN ('persistent', 'floating')),
        template TEXT NOT NULL DEFAULT '',
        min_ready INTEGER NOT NULL DEFAULT 0 CHECK (min_ready >= 0),
        max_size INTEGER NOT NULL DEFAULT 0 CHECK (max_size >= 0),
        hang_grace_seconds INTEGER NOT NULL DEFAULT 30 CHECK (hang_grace_seconds >= 0),
        hang_action TEXT NOT NULL DEFAULT 'reset' CHECK (hang_action IN ('reset', 'reboot-then-reset', 'alert')),
        max_resets_per_hour INTEGER NOT NULL DEFAULT 3 CHECK (max_resets_per_hour >= 0),
        clipboard TEXT NOT NULL DEFAULT 'both' CHECK (clipboard IN ('off', 'to-guest', 'to-client', 'both')),
        resize INTEGER NOT NULL DEFAULT 1 CHECK (resize IN (0, 1)),
        transport TEXT NOT NULL DEFAULT 'auto' CHECK (transport IN ('auto', 'udp', 'tcp')),
        disconnect_limit_seconds INTEGER NOT NULL DEFAULT 0 CHECK (disconnect_limit_seconds >= 0)
);

CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
        display_name TEXT NOT NULL DEFAULT '',
        created INTEGER NOT NULL
);

CREATE TABLE desktops (
        id INTEGER PRIMARY KEY,
        pool_id INTEGER NOT NULL REFERENCES pools(id) ON DELETE RESTRICT,
        host_id INTEGER REFERENCES hosts(id) ON DELETE SET NULL,
        domain_name TEXT NOT NULL UNIQUE CHECK (length(domain_name) BETWEEN 1 AND 63),
        uuid TEXT NOT NULL DEFAULT '',
        power_state TEXT NOT NULL DEFAULT 'unknown'
                CHECK (power_state IN ('unknown', 'running', 'paused', 'shutoff', 'crashed', 'starting', 'stopping')),
        health TEXT NOT NULL DEFAULT 'unknown'
                CHECK (health IN ('unknown', 'healthy', 'vm-hang', 'os-hang', 'agent-hang', 'failed')),
        health_reason TEXT NOT NULL DEFAULT '',
        assigned_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
        ready INTEGER NOT NULL DEFAULT 0 CHECK (ready IN (0, 1))
);
-- One user, one desktop per pool: the last guard of "a user never gets two".
CREATE UNIQUE INDEX desktops_one_per_user ON desktops(pool_id, assigned_user_id)
        WHERE assigned_user_id IS NOT NULL;
CREATE INDEX desktops_free ON desktops(pool_id, ready) WHERE assigned_user_id IS NULL;
CREATE INDEX desktops_host ON desktops(host_id);

CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY,
        hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32), -- SHA-256 of the token; the token is never stored
        role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'user', 'monitor', 'host')),
        owner TEXT NOT NULL,     -- the user name for 'user', the host name for 'host', free text otherwise
        created INTEGER NOT NULL,
        expires INTEGER          -- NULL: never
);

CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        desktop_id INTEGER NOT NULL REFERENCES desktops(id) ON DELETE CASCADE,
        client_address TEXT NOT NULL DEFAULT '',
        start INTEGER NOT NULL,
        end INTEGER
);
CREATE INDEX sessions_open ON sessions(desktop_id) WHERE end IS NULL;

CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        time INTEGER NOT NULL,
        actor TEXT NOT NULL,       -- "user:alice", "host:h1", "broker", "hang-detector", ...
        action TEXT NOT NULL,      -- "connect", "reset", "pool-create", ...
        object_kind TEXT NOT NULL, -- "desktop", "pool", "host", "user", "token", ""
        object_id TEXT NOT NULL,
        evidence TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(evidence))
);
CREATE INDEX events_object ON events(object_kind, object_id, action, time);

-- Append-only: the audit trail is never rewritten.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
