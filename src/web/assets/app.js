// Galaxy health: the live page served by `galaxy-health web`. Contract: /api/v1/games,
// /api/v1/hosts and the SSE stream /api/v1/events. No framework and no innerHTML: game ids,
// container ids and probe errors come from engines and are rendered with textContent only.
'use strict';
(function () {
  const BACKLOG = 50;
  const MAX_EVENTS = 50;
  const HOSTS_EVERY_MS = 5000;
  const GAMES_EVERY_MS = 30000;
  const GAMES_DEBOUNCE_MS = 1000;
  const STATES = ['healthy', 'unhealthy', 'exited', 'gone'];
  const STATE_OF = {
    container_started: 'healthy', probe_recovered: 'healthy',
    probe_failed: 'unhealthy', inspect_unhealthy: 'unhealthy',
    container_exited: 'exited', container_oom: 'exited',
    container_disappeared: 'gone',
  };

  const $ = (sel) => document.querySelector(sel);
  const gamesBody = $('#games tbody');
  const hostsBody = $('#hosts tbody');
  const eventsList = $('#events');
  const live = $('#live');
  const fq = $('#filter-q');
  const fstate = $('#filter-state');
  const fhost = $('#filter-host');

  const games = new Map(); // game_id -> {data, tr}
  const hostStatus = new Map(); // host_id -> lease status, from /api/v1/hosts
  const seenEvents = new Set(); // ids in the recent-events list
  let lastEventId = '';
  let skewMs = 0; // server clock minus ours, only when it is large enough to matter

  // Read by the browser test and the benchmark.
  window.__galaxyRowChanges = [];
  window.__galaxyDuplicates = 0; // SSE frames whose id was not newer than the last one

  // Stream ids are "ms-seq", each part a 64-bit integer: compared as numbers, not as text
  // ("9-0" < "10-0"). An empty or malformed id is older than any real one.
  function parseId(id) {
    const m = /^(\d+)-(\d+)$/.exec(id || '');
    return m ? [BigInt(m[1]), BigInt(m[2])] : null;
  }
  function compareIds(a, b) {
    const x = parseId(a), y = parseId(b);
    if (!x || !y) return (x ? 1 : 0) - (y ? 1 : 0);
    if (x[0] !== y[0]) return x[0] < y[0] ? -1 : 1;
    if (x[1] !== y[1]) return x[1] < y[1] ? -1 : 1;
    return 0;
  }
  window.__galaxyCompareIds = compareIds;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // time
  function now() { return Date.now() + skewMs; }
  function utc(ms) {
    return Number.isFinite(ms) ? new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : '';
  }
  function ago(ms) {
    if (!Number.isFinite(ms) || ms <= 0) return '—';
    let s = Math.round((now() - ms) / 1000);
    if (s < 0) s = 0; // small skew: never "in 2s"
    if (s < 60) return s + 's ago';
    if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's ago';
    if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm ago';
    return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h ago';
  }
  function until(ms) {
    if (!Number.isFinite(ms) || ms <= 0) return '—';
    const s = Math.round((ms - now()) / 1000);
    return s >= 0 ? s + 's left' : 'expired ' + (-s) + 's ago';
  }
  function clock(ms) { return Number.isFinite(ms) ? new Date(ms).toISOString().slice(11, 19) : ''; }

  // details
  // [key, label] pairs per event type; the value is the event's own.
  const FIELDS = {
    container_started: [['image_ref', 'image']],
    container_exited: [['exit_code', 'exit code'], ['oom', 'oom']],
    container_oom: [['exit_code', 'exit code']],
    container_disappeared: [],
    inspect_unhealthy: [['state', 'status'], ['health', 'health'], ['restart_count', 'restarts']],
    probe_failed: [['consecutive_failures', 'failures'], ['last_status', 'status'], ['last_error', 'error']],
    probe_recovered: [['prior_failure_count', 'after failures']],
  };
  function detailPairs(type, d) {
    d = d && typeof d === 'object' ? d : {};
    const known = FIELDS[type];
    const pairs = [];
    if (known) {
      for (const [k, label] of known) {
        if (!(k in d)) continue;
        let v = d[k];
        if (k === 'oom') { if (v) pairs.push([k, 'oom', '']); continue; }
        if (k === 'last_status' && v === 0) v = 'no response';
        if (k === 'health' && v === '') v = 'none';
        if (k === 'last_error' && v === '') continue;
        pairs.push([k, label, v]);
      }
      if (type === 'container_disappeared') pairs.push(['', 'removed outside Runtime Manager', '']);
    } else {
      for (const k of Object.keys(d)) pairs.push([k, k, typeof d[k] === 'object' ? JSON.stringify(d[k]) : d[k]]);
    }
    return pairs;
  }
  function renderDetails(type, d) {
    const box = el('span', 'details');
    for (const [k, label, v] of detailPairs(type, d)) {
      const kv = el('span', 'kv');
      if (k) kv.dataset.k = k;
      kv.append(el('span', 'k', label));
      if (v !== '') kv.append(el('span', 'v', v));
      if (k === 'oom' || (k === 'exit_code' && d.exit_code === 137)) kv.classList.add('warn');
      box.append(kv);
    }
    return box;
  }
  function detailsText(type, d) {
    return detailPairs(type, d).map(([, l, v]) => (v === '' ? l : l + ' ' + v)).join(', ');
  }

  // games table
  function stateOf(g) { return STATES.includes(g.state) ? g.state : (STATE_OF[g.event_type] || 'unhealthy'); }
  function isStale(g) {
    const s = hostStatus.get(g.host_id);
    if (s) return s === 'lost' || s === 'left';
    return !!g.stale;
  }

  function buildRow(id) {
    const tr = el('tr');
    tr.dataset.game = id;
    for (const c of ['game mono', 'host', 'container mono', 'state', 'type', 'det', 'since']) tr.append(el('td', c));
    return tr;
  }

  function renderRow(entry) {
    const g = entry.data, tr = entry.tr, st = stateOf(g);
    const td = tr.children;
    tr.dataset.state = st;
    tr.dataset.eventId = g.stream_id || '';
    tr.className = 'row s-' + st + (isStale(g) ? ' stale' : '') + (tr.classList.contains('flash') ? ' flash' : '');
    td[0].textContent = g.game_id;
    td[0].title = g.game_id;

    td[1].replaceChildren();
    const host = g.host_id || '';
    td[1].append(el('span', host ? 'mono' : 'muted', host || (g.host_known === false ? 'unknown' : '—')));
    if (isStale(g)) {
      const tag = el('span', 'tag stale-tag', 'stale');
      tag.title = 'host ' + (hostStatus.get(g.host_id) || g.host_status || '') + ': this row may be out of date';
      td[1].append(' ', tag);
    }

    const cid = g.container_id || '';
    td[2].textContent = cid.slice(0, 12);
    td[2].title = cid;

    td[3].replaceChildren(el('span', 'badge s-' + st, st));
    td[4].textContent = (g.event_type || '').replace(/_/g, ' ');
    td[4].title = g.event_type || '';
    td[5].replaceChildren(renderDetails(g.event_type, g.details));
    td[6].textContent = ago(g.since_ms);
    td[6].title = 'since ' + utc(g.since_ms) + '\nlatest event ' + utc(g.occurred_at_ms);
  }

  function flash(tr) {
    tr.classList.remove('flash');
    void tr.offsetWidth; // restart the CSS animation
    tr.classList.add('flash');
  }

  // Rows stay sorted by game_id, as the server sends them.
  function insertSorted(entry) {
    const id = entry.data.game_id;
    for (const tr of gamesBody.children) {
      if (tr.dataset.game > id) { gamesBody.insertBefore(entry.tr, tr); return; }
    }
    gamesBody.append(entry.tr);
  }

  function upsertFromSnapshot(g) {
    let entry = games.get(g.game_id);
    if (!entry) {
      entry = { data: Object.assign({}, g), tr: buildRow(g.game_id) };
      games.set(g.game_id, entry);
      renderRow(entry);
      insertSorted(entry);
      return;
    }
    const d = entry.data;
    if (compareIds(g.stream_id, d.stream_id) >= 0 && !(g.stream_id === '' && d.stream_id)) {
      entry.data = Object.assign({}, g);
    } else {
      // The stream got here first: keep its event, take the snapshot's host.
      Object.assign(d, { host_id: g.host_id, host_status: g.host_status, stale: g.stale, host_known: true });
    }
    renderRow(entry);
  }

  // A health event from the stream; returns true when the row changed.
  function applyEvent(ev, id) {
    let entry = games.get(ev.game_id);
    const st = STATES.includes(ev.state) ? ev.state : (STATE_OF[ev.event_type] || 'unhealthy');
    if (entry && compareIds(id, entry.data.stream_id) <= 0) return false;
    const occurred = Number(ev.occurred_at_ms);
    if (!entry) {
      entry = {
        data: { game_id: ev.game_id, host_id: '', host_status: 'unknown', stale: false, host_known: false },
        tr: buildRow(ev.game_id),
      };
      games.set(ev.game_id, entry);
      insertSorted(entry);
      scheduleGames(GAMES_DEBOUNCE_MS);
      entry.data.since_ms = occurred;
    } else if (stateOf(entry.data) !== st) {
      entry.data.since_ms = occurred;
    }
    Object.assign(entry.data, {
      container_id: ev.container_id, event_type: ev.event_type, state: st,
      occurred_at_ms: occurred, details: ev.details, stream_id: id,
    });
    renderRow(entry);
    flash(entry.tr);
    const changes = window.__galaxyRowChanges;
    changes.push({ id, at: performance.timeOrigin + performance.now() });
    if (changes.length > 10000) changes.splice(0, changes.length - 10000);
    return true;
  }

  // counts and filters
  function matches(g) {
    const q = fq.value.trim().toLowerCase();
    if (fstate.value && stateOf(g) !== fstate.value) return false;
    if (fhost.value && (g.host_id || '') !== fhost.value) return false;
    if (q) {
      const hay = [g.game_id, g.host_id, g.container_id].join('\n').toLowerCase();
      if (!hay.includes(q)) return false;
    }
    return true;
  }

  function refreshView() {
    const counts = { healthy: 0, unhealthy: 0, exited: 0, gone: 0 };
    let shown = 0;
    for (const entry of games.values()) {
      counts[stateOf(entry.data)]++;
      const ok = matches(entry.data);
      entry.tr.hidden = !ok;
      if (ok) shown++;
    }
    for (const s of STATES) {
      const b = $('#count-' + s);
      b.firstChild.textContent = counts[s];
      b.classList.toggle('zero', counts[s] === 0);
      b.setAttribute('aria-pressed', String(fstate.value === s));
    }
    $('#shown').textContent = games.size ? shown + ' of ' + games.size + ' shown' : '';
    $('#games-empty').hidden = shown > 0;
    $('#games-empty').textContent = games.size ? 'No game matches the filters.' : 'No games.';
    refreshHostOptions();
  }

  function refreshHostOptions() {
    const ids = new Set();
    for (const e of games.values()) if (e.data.host_id) ids.add(e.data.host_id);
    for (const h of hostStatus.keys()) ids.add(h);
    if (fhost.value) ids.add(fhost.value); // keep a filter restored from the URL selectable
    const want = [...ids].sort();
    const have = [...fhost.options].slice(1).map((o) => o.value);
    if (want.join('\n') === have.join('\n')) return;
    const keep = fhost.value;
    while (fhost.options.length > 1) fhost.remove(1);
    for (const h of want) fhost.append(new Option(h, h));
    fhost.value = keep;
  }

  function readUrl() {
    const p = new URLSearchParams(location.search);
    fq.value = p.get('q') || '';
    const st = p.get('state') || '';
    fstate.value = STATES.includes(st) ? st : '';
    const host = p.get('host') || '';
    if (host) { hostStatus.has(host) || fhost.append(new Option(host, host)); }
    fhost.value = host;
  }
  function writeUrl() {
    const p = new URLSearchParams(location.search);
    for (const [k, v] of [['q', fq.value.trim()], ['state', fstate.value], ['host', fhost.value]]) {
      if (v) p.set(k, v); else p.delete(k);
    }
    const qs = p.toString();
    history.replaceState(null, '', location.pathname + (qs ? '?' + qs : '') + location.hash);
  }
  function onFilter() { writeUrl(); refreshView(); }

  // recent events
  function addEventItem(id, ev, invalidError) {
    if (seenEvents.has(id)) return;
    seenEvents.add(id);
    const li = el('li', invalidError === undefined ? 'ev s-' + (ev.state || STATE_OF[ev.event_type] || 'unhealthy') : 'ev invalid');
    li.dataset.eventId = id;
    const t = el('time', 'muted mono', clock(Number(ev.occurred_at_ms) || parseMs(id)));
    t.title = utc(Number(ev.occurred_at_ms) || parseMs(id)) + '\nstream id ' + id;
    li.append(t);
    if (invalidError === undefined) {
      li.dataset.game = ev.game_id;
      li.append(el('span', 'game mono', ev.game_id), el('span', 'type', (ev.event_type || '').replace(/_/g, ' ')));
      const d = detailsText(ev.event_type, ev.details);
      if (d) li.append(el('span', 'muted det', d));
    } else {
      li.append(el('span', 'type', 'invalid entry'), el('span', 'muted det', invalidError));
    }
    eventsList.prepend(li);
    while (eventsList.children.length > MAX_EVENTS) {
      seenEvents.delete(eventsList.lastElementChild.dataset.eventId);
      eventsList.lastElementChild.remove();
    }
    $('#events-empty').hidden = true;
  }
  function parseMs(id) { const p = parseId(id); return p ? Number(p[0]) : NaN; }

  // hosts
  function renderHosts(list) {
    hostsBody.replaceChildren();
    hostStatus.clear();
    for (const h of list) {
      hostStatus.set(h.host_id, h.status);
      const tr = el('tr', 'h-' + h.status);
      tr.dataset.host = h.host_id;
      tr.dataset.status = h.status;
      const name = el('td', 'mono');
      name.append(el('span', '', h.hostname || h.host_id));
      name.title = 'host ' + h.host_id + (h.version ? '\nversion ' + h.version : '') +
        (h.docker_id ? '\ndocker ' + h.docker_id : '') + '\nstarted ' + utc(h.started_at_ms);
      if (h.hostname && h.hostname !== h.host_id) name.append(el('span', 'muted small', ' ' + h.host_id.slice(0, 12)));
      const st = el('td');
      st.append(el('span', 'badge h-' + h.status, h.status));
      if (h.daemons > 1) st.append(el('span', 'muted small', ' ×' + h.daemons));
      const hb = el('td', 'muted', ago(h.heartbeat_at_ms));
      hb.title = utc(h.heartbeat_at_ms);
      const lease = el('td', 'muted', h.status === 'active' || h.status === 'standby' ? until(h.lease_until_ms) : '—');
      lease.title = 'lease until ' + utc(h.lease_until_ms);
      tr.append(name, st, hb, lease);
      hostsBody.append(tr);
    }
    $('#hosts-empty').hidden = list.length > 0;
  }

  // fetching
  const errors = new Map(); // source -> message; shown together in the banner
  function setError(source, msg) {
    if (msg) errors.set(source, msg); else errors.delete(source);
    const box = $('#error');
    box.textContent = [...errors.values()].join(' · ');
    box.hidden = errors.size === 0;
  }
  async function getJson(path) {
    const r = await fetch(path, { headers: { Accept: 'application/json' }, cache: 'no-store' });
    let body = null;
    try { body = await r.json(); } catch (e) { /* not JSON: reported by status below */ }
    if (!r.ok) {
      const m = body && body.error && body.error.message ? body.error.message : r.status + ' ' + r.statusText;
      throw new Error(path + ': ' + m);
    }
    return body;
  }

  let gamesTimer = 0, gamesBusy = false, gamesAgain = false;
  function scheduleGames(ms) {
    clearTimeout(gamesTimer);
    gamesTimer = setTimeout(loadGames, ms);
  }
  async function loadGames() {
    if (gamesBusy) { gamesAgain = true; return; }
    gamesBusy = true;
    try {
      const t0 = Date.now();
      const body = await getJson('/api/v1/games');
      const skew = body.generated_at_ms - (t0 + Date.now()) / 2;
      skewMs = Math.abs(skew) > 5000 ? skew : 0;
      if (body.stream) $('#stream').textContent = body.stream;
      for (const g of body.games || []) upsertFromSnapshot(g);
      setError('games', '');
      refreshView();
    } catch (e) {
      setError('games', e.message);
    } finally {
      gamesBusy = false;
      scheduleGames(gamesAgain ? 0 : GAMES_EVERY_MS);
      gamesAgain = false;
    }
  }
  async function loadHosts() {
    try {
      const body = await getJson('/api/v1/hosts');
      renderHosts(body.hosts || []);
      for (const entry of games.values()) renderRow(entry); // stale markers follow the leases
      setError('hosts', '');
      refreshView();
    } catch (e) {
      setError('hosts', e.message);
    } finally {
      setTimeout(loadHosts, HOSTS_EVERY_MS);
    }
  }

  // live stream
  let es = null, redisDown = '', retryTimer = 0;
  function setLive(status, text, title) {
    live.dataset.status = status;
    live.textContent = text;
    live.title = title || '';
  }
  function connect() {
    // EventSource resends Last-Event-ID by itself only while it retries; after it gives up
    // (a non-200 answer, e.g. 503) a new one resumes through the query instead.
    const url = lastEventId ? '/api/v1/events?last_event_id=' + encodeURIComponent(lastEventId)
                            : '/api/v1/events?backlog=' + BACKLOG;
    es = new EventSource(url);
    es.onopen = () => {
      if (redisDown) setLive('reconnecting', 'redis down', redisDown);
      else setLive('live', 'live', 'connected to the event stream');
      scheduleGames(GAMES_DEBOUNCE_MS); // catch up on hosts changed while we were away
    };
    es.onerror = () => {
      setLive('reconnecting', 'reconnecting', 'lost the event stream; retrying');
      if (es.readyState === EventSource.CLOSED) {
        clearTimeout(retryTimer);
        retryTimer = setTimeout(connect, 2000);
      }
    };
    es.addEventListener('health', (m) => {
      let ev;
      try { ev = JSON.parse(m.data); } catch (e) { return; }
      const id = m.lastEventId || ev.id || '';
      if (lastEventId && compareIds(id, lastEventId) <= 0) { window.__galaxyDuplicates++; return; }
      lastEventId = id;
      if (applyEvent(ev, id)) refreshView();
      addEventItem(id, ev);
    });
    es.addEventListener('invalid', (m) => {
      let ev = {};
      try { ev = JSON.parse(m.data); } catch (e) { /* show what we can */ }
      const id = m.lastEventId || ev.id || '';
      if (lastEventId && compareIds(id, lastEventId) <= 0) { window.__galaxyDuplicates++; return; }
      lastEventId = id;
      addEventItem(id, {}, String(ev.error || 'not a health event'));
    });
    es.addEventListener('status', (m) => {
      let s = {};
      try { s = JSON.parse(m.data); } catch (e) { return; }
      if (s.redis === 'down') {
        redisDown = 'server lost Redis' + (s.reason ? ': ' + s.reason : '');
        setLive('reconnecting', 'redis down', redisDown);
      } else {
        redisDown = '';
        if (es.readyState === EventSource.OPEN) setLive('live', 'live', 'connected to the event stream');
      }
    });
  }

  // start
  readUrl();
  fq.addEventListener('input', onFilter);
  fstate.addEventListener('change', onFilter);
  fhost.addEventListener('change', onFilter);
  for (const s of STATES) {
    $('#count-' + s).addEventListener('click', () => {
      fstate.value = fstate.value === s ? '' : s;
      onFilter();
    });
  }
  refreshView();
  loadGames();
  loadHosts();
  connect();
  // Relative times age without any event.
  setInterval(() => {
    for (const entry of games.values()) {
      const td = entry.tr.children[6];
      const t = ago(entry.data.since_ms);
      if (td.textContent !== t) td.textContent = t;
    }
  }, 1000);
})();
