-- A fleet: many hosts on one database. Everything a daemon remembers and every event it has not
-- relayed yet belongs to its host (host_id); a lease per host, with a fencing epoch, lets one of
-- several daemons of a host (a hot standby) be the only one that writes (docs/fleet.md).

-- The lease of each host, and its outbox sequence. epoch goes up by one every time the lease is
-- taken: every write of a host (the writer's commit, the relay's confirm, the Redis script)
-- carries the epoch its daemon holds, and one older than this row's is refused. last_seq is the
-- host's own counter (its row lock is held to COMMIT, so within a host seq order is commit order;
-- hosts never wait on each other).
CREATE TABLE host_leases (
  host_id     text        PRIMARY KEY,
  epoch       bigint      NOT NULL DEFAULT 0,
  holder      text        NOT NULL DEFAULT '',  -- daemon_id of the holder; '' released
  lease_until timestamptz NOT NULL DEFAULT '-infinity',  -- the database's clock
  last_seq    bigint      NOT NULL DEFAULT 0,
  -- Set when this host adopted outbox rows written before this migration: the relay then carries
  -- the old Redis high-water mark over to the host's, so none of them is added twice.
  legacy_seq  bigint
);

-- One row per daemon (its daemon_id is kept in its state dir): the active one of each host, its
-- standbys, and those that left (clean stop) or were lost (lease or heartbeat expired).
CREATE TABLE runtime_hosts (
  daemon_id    text        PRIMARY KEY,
  host_id      text        NOT NULL,
  hostname     text        NOT NULL,
  docker_id    text        NOT NULL DEFAULT '',
  version      text        NOT NULL,
  started_at   timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  lease_until  timestamptz NOT NULL DEFAULT now(),
  status       text        NOT NULL CHECK (status IN ('active', 'standby', 'left', 'lost')),
  epoch        bigint      NOT NULL DEFAULT 0  -- the lease epoch it held last (0: never active)
);
CREATE INDEX runtime_hosts_host ON runtime_hosts (host_id);

-- Refuses (SQLSTATE GXL01) unless p_epoch is the host's current lease epoch, and holds a share
-- lock on the lease row to COMMIT, so a takeover (which updates the row) waits for a write that
-- passed the check instead of racing it: a standby that took the lease then loads every state
-- record such a write committed.
CREATE FUNCTION galaxy_fence(p_host text, p_epoch bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  current_epoch bigint;
BEGIN
  SELECT epoch INTO current_epoch FROM host_leases WHERE host_id = p_host FOR SHARE;
  IF current_epoch IS DISTINCT FROM p_epoch THEN
    RAISE EXCEPTION 'host % lease epoch % is not current (the lease is at %)', p_host, p_epoch,
      coalesce(current_epoch::text, 'none') USING ERRCODE = 'GXL01';
  END IF;
  RETURN current_epoch;
END $$;

-- Rows written before this migration belong to no host ('') until the first daemon that takes
-- a lease adopts them (PgLease::acquire).
ALTER TABLE runtime_state ADD COLUMN host_id text NOT NULL DEFAULT '';
ALTER TABLE runtime_state DROP CONSTRAINT runtime_state_pkey;
ALTER TABLE runtime_state ADD PRIMARY KEY (host_id, key);

ALTER TABLE health_outbox ADD COLUMN host_id text NOT NULL DEFAULT '';
ALTER TABLE health_outbox DROP CONSTRAINT health_outbox_pkey;
ALTER TABLE health_outbox ADD PRIMARY KEY (host_id, seq);

ALTER TABLE health_snapshots ADD COLUMN host_id text NOT NULL DEFAULT '';

-- The one counter of every host is gone: a daemon of the release before this one fails here
-- loudly instead of writing rows that belong to no host.
DROP TABLE publish_counter;
