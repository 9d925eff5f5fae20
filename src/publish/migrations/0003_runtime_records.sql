-- The engines Runtime Manager runs for Game Master (docs/lifecycle.md): one row per container
-- incarnation of a game on a host; a restart makes a new incarnation, so the events of the old
-- container keep meaning the old one. The action in progress (the intent) is committed before
-- Docker is called, so a daemon that dies between the two finds it at start and finishes it,
-- and a destroy the records asked for is never reported as container_disappeared.
CREATE TABLE runtime_records (
  host_id      text        NOT NULL,
  game_id      text        NOT NULL,
  incarnation  bigint      NOT NULL,
  container_id text        NOT NULL DEFAULT '',  -- '' until Docker has created it
  current      boolean     NOT NULL,             -- the game's incarnation now
  spec         jsonb       NOT NULL,             -- the engine spec as asked (canonical)
  desired      text        NOT NULL CHECK (desired IN ('running', 'stopped', 'removed')),
  state        text        NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'running', 'stopped', 'removed', 'failed')),
  action       text        CHECK (action IN ('create', 'stop', 'restart', 'remove')),
  action_by    text        NOT NULL DEFAULT '',    -- who asked for the last action (token name)
  action_at    timestamptz,
  error        text        NOT NULL DEFAULT '',    -- why the last action failed
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (host_id, game_id, incarnation)
);
CREATE UNIQUE INDEX runtime_records_current ON runtime_records (host_id, game_id) WHERE current;
CREATE INDEX runtime_records_container ON runtime_records (host_id, container_id)
  WHERE container_id <> '';
