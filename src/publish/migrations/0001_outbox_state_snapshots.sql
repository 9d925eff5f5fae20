-- The durable path of health events: the writer commits events (outbox) and the sources' memory
-- (runtime_state) in one transaction; the relay moves outbox rows to the Redis Stream and the
-- per-game snapshots, then deletes them.

-- Events waiting for the relay. seq is assigned under the publish_counter row lock, so seq order
-- is commit order (a reader never sees a lower seq commit after a higher one).
CREATE TABLE health_outbox (
  seq            bigint PRIMARY KEY,
  game_id        text        NOT NULL,
  occurred_at_ms bigint      NOT NULL,
  payload        text        NOT NULL,  -- the canonical payload JSON (contract codec), verbatim
  committed_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE publish_counter (
  id       int    PRIMARY KEY CHECK (id = 1),
  last_seq bigint NOT NULL
);
INSERT INTO publish_counter (id, last_seq) VALUES (1, 0);

-- The last batch each writer (one per daemon run) committed: a batch whose COMMIT reply was lost
-- is recognised on reconnect and not stored twice.
CREATE TABLE publish_writers (
  writer_id  text        PRIMARY KEY,
  last_batch bigint      NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Identifies this database to the Redis dedupe script: a recreated database starts seq again at
-- 1, and the stream's high-water mark of the old one must not swallow its events.
CREATE TABLE publish_identity (
  id    int  PRIMARY KEY CHECK (id = 1),
  epoch text NOT NULL
);
INSERT INTO publish_identity (id, epoch) VALUES (1, gen_random_uuid()::text);

-- The sources' memory: "cursor" and "container/<id>".
CREATE TABLE runtime_state (
  key        text        PRIMARY KEY,
  value      jsonb       NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per game: its latest event by (occurred_at_ms, seq).
CREATE TABLE health_snapshots (
  game_id        text        PRIMARY KEY,
  container_id   text        NOT NULL,
  event_type     text        NOT NULL,
  occurred_at_ms bigint      NOT NULL,
  details        jsonb       NOT NULL,
  stream_id      text        NOT NULL,
  seq            bigint      NOT NULL,
  updated_at     timestamptz NOT NULL DEFAULT now()
);
