// The live page in a real browser (Debian's chromium, puppeteer-core) against the real stack:
// runtime-manager serve (durable sink), galaxy-health web, Redis, PostgreSQL and dockerd with fake
// engines. Needs DOCKER_HOST, GALAXY_REDIS_URL and GALAXY_POSTGRES_URL (scripts/services' env),
// the fake engine image, and GALAXY_BIN_DIR (default build/debug/bin). Screenshots go to
// GALAXY_ARTIFACTS_DIR (default a temp dir, printed).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  binDir, requireEnv, privateBackends, start, startWeb, freePort, waitFor, sleep, docker, dockerRun, ipOf,
  control, streamIds, launchBrowser, cleanup, artifactsDir, IMAGE,
} from './stack.mjs';

const ART = artifactsDir('galaxy-web-browser');
const LOGS = path.join(ART, 'logs');
fs.mkdirSync(LOGS, { recursive: true });
// A label of this run's own, so a daemon here watches only the containers this test starts.
const LABEL = `galaxy.webtest.${process.pid}`;
const HOST_ID = `webtest-host-${process.pid}`;
// One id a browser would misread if it were ever put through innerHTML.
const GAMES = { ok: 'web-alpha', crash: 'web-bravo', probe: 'web-charlie', odd: 'web-<img src=x>&"odd"' };

let bin, b, daemon, web, webPort, browser, page, base;
const ids = {}; // game -> container id
const ips = {};
const cspViolations = [];

const shot = (name) => page.screenshot({ path: path.join(ART, name), fullPage: true });
const row = (game) => `#games tr[data-game="${CSS_escape(game)}"]`;
function CSS_escape(s) { return s.replace(/["\\]/g, '\\$&'); }
const rowInfo = (game) => page.evaluate((sel) => {
  const tr = document.querySelector(sel);
  return tr && { state: tr.dataset.state, eventId: tr.dataset.eventId, text: tr.textContent, hidden: tr.hidden };
}, row(game));
const visibleGames = () => page.$$eval('#games tbody tr', (trs) => trs.filter((t) => !t.hidden).map((t) => t.dataset.game).sort());
const waitRow = (game, pred, ms, what) => waitFor(async () => { const r = await rowInfo(game); return r && pred(r) && r; }, ms, what, 50);

async function startDaemon() {
  const adminPort = await freePort();
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'galaxy-webtest-state-'));
  const d = start('runtime-manager', path.join(bin, 'runtime-manager'), [
    'serve', '--state-dir', state, '--label-game-id', LABEL, '--log-level', 'warn',
    '--admin-listen', `127.0.0.1:${adminPort}`,
    '--sink', 'durable', '--redis-url', b.redisUrl, '--postgres-url', b.dbUrl, '--stream', b.stream,
    '--host-id', HOST_ID, '--api-listen', '',
    '--probe-interval', '300ms', '--probe-timeout', '250ms', '--start-grace', '0s', '--inspect-interval', '2s',
    '--oom-window', '250ms',
  ], { logDir: LOGS });
  await waitFor(async () => {
    if (d.exitCode !== null) throw new Error(`runtime-manager exited ${d.exitCode} (see ${LOGS}/runtime-manager.log)`);
    return (await fetch(`http://127.0.0.1:${adminPort}/readyz`)).status === 200;
  }, 60000, 'runtime-manager /readyz');
  return d;
}

before(async () => {
  requireEnv('DOCKER_HOST');
  bin = binDir();
  docker('image', 'inspect', '--format', '{{.Id}}', IMAGE); // fails clearly when the image is missing
  b = privateBackends('webtest');
  daemon = await startDaemon();
  webPort = await freePort();
  web = await startWeb(bin, { port: webPort, b, logDir: LOGS });
  base = `http://127.0.0.1:${webPort}`;
  for (const [k, game] of Object.entries(GAMES)) {
    ids[k] = dockerRun(['--label', `${LABEL}=${game}`, IMAGE]);
    ips[k] = ipOf(ids[k]);
  }
  browser = await launchBrowser();
  page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 800 });
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });
  page.on('pageerror', (e) => cspViolations.push('page error: ' + e.message));
  console.log(`# artifacts: ${ART}`);
});

after(async () => {
  try { if (browser) await browser.close(); } catch { /* cleanup() kills it */ }
  for (const p of [web, daemon]) if (p) await p.stop();
  cleanup();
});

test('the page lists the games of the scenario', async () => {
  await page.goto(base + '/', { waitUntil: 'load' });
  await page.waitForSelector('#live[data-status="live"]', { timeout: 10000 });
  for (const game of Object.values(GAMES)) {
    await waitRow(game, (r) => r.state === 'healthy', 30000, `${game} healthy`);
  }
  const odd = await rowInfo(GAMES.odd);
  assert.ok(odd.text.startsWith(GAMES.odd), 'an id with markup is shown as text');
  assert.equal(await page.$$eval('#games img', (x) => x.length), 0, 'no markup from data');
  assert.equal(await page.$eval('#count-healthy b', (e) => e.textContent), String(Object.keys(GAMES).length));
  const host = await page.$eval(`${row(GAMES.ok)} td.host`, (td) => td.textContent);
  await waitFor(async () => (await page.$eval(`${row(GAMES.ok)} td.host`, (td) => td.textContent)).includes(HOST_ID), 35000,
    `the row's host (${host})`);
  await page.waitForSelector(`#hosts tr[data-host="${HOST_ID}"][data-status="active"]`, { timeout: 10000 });
  await shot('page-list.png');
});

test('an engine that crashes turns its row to exited within 2 s, without a reload', async () => {
  await page.evaluate(() => { window.__notReloaded = true; });
  const before = (await rowInfo(GAMES.crash)).eventId;
  // Every state the row takes, as it takes it: an inspect_unhealthy of the exited container can
  // follow the exit within milliseconds, faster than a poll would see the exited state.
  await page.evaluate((sel) => {
    window.__stateLog = [];
    const tr = document.querySelector(sel);
    new MutationObserver(() => window.__stateLog.push({ state: tr.dataset.state, type: tr.children[4].title, at: Date.now() }))
      .observe(tr, { attributes: true, attributeFilter: ['data-state'] });
  }, row(GAMES.crash));
  const t0 = Date.now();
  await control(ips.crash, '/control/exit?code=3');
  const seen = await waitFor(async () => (await page.evaluate(() => window.__stateLog)).find((x) => x.state === 'exited'),
    2000, 'the crashed engine\'s row to turn exited', 20);
  console.log(`# exited after ${seen.at - t0} ms`);
  assert.ok(seen.at - t0 <= 2000);
  const r = await rowInfo(GAMES.crash);
  assert.ok(await page.evaluate(() => window.__notReloaded === true), 'the page was not reloaded');
  assert.notEqual(r.eventId, before);
  const exit = await page.$$eval('#events li', (lis, g) => lis.filter((l) => l.dataset.game === g &&
    l.querySelector('.type').textContent === 'container exited').map((l) => l.textContent), GAMES.crash);
  assert.equal(exit.length, 1);
  assert.match(exit[0], /exit code 3/);
  await shot('page-exited.png');
});

test('a probe failure shows its details in the row', async () => {
  assert.equal(await control(ips.probe, '/control/status?code=500'), 200);
  await waitRow(GAMES.probe, (x) => x.state === 'unhealthy', 15000, 'probe_failed on the row');
  const det = await page.$eval(row(GAMES.probe), (tr) => Object.fromEntries(
    [...tr.querySelectorAll('[data-k]')].map((e) => [e.dataset.k, e.querySelector('.v')?.textContent ?? ''])));
  const type = await page.$eval(`${row(GAMES.probe)} td.type`, (e) => e.title);
  assert.equal(type, 'probe_failed');
  assert.ok(Number(det.consecutive_failures) >= 3, JSON.stringify(det));
  assert.equal(det.last_status, '500', JSON.stringify(det));
  await shot('page-probe.png');
});

test('after the web server restarts the page reconnects and shows each event once', async () => {
  await web.stop('SIGKILL');
  await page.waitForSelector('#live[data-status="reconnecting"]', { timeout: 5000 });
  // Events while the server is away: the page must get them on resume, not from a reload.
  await control(ips.probe, '/control/status?code=200');
  await control(ips.ok, '/control/exit?code=4');
  await waitFor(() => {
    const all = streamIds(b.redisUrl, b.stream);
    return all.length > 0 && all;
  }, 10000, 'the stream');
  await sleep(1500);
  web = await startWeb(bin, { port: webPort, b, logDir: LOGS });
  await page.waitForSelector('#live[data-status="live"]', { timeout: 10000 });
  await waitRow(GAMES.probe, (x) => x.state === 'healthy', 15000, 'probe_recovered after the restart');
  // The exit during the outage (a later inspect_unhealthy of the exited container may follow it).
  await waitFor(() => page.$$eval('#events li', (lis, g) => lis.some((l) => l.dataset.game === g &&
    l.querySelector('.type').textContent === 'container exited'), GAMES.ok), 15000, 'the exit during the outage');
  // Every entry of the stream (fewer than the list's 50), each once, newest first.
  let dom = [], xr = [];
  await waitFor(async () => {
    xr = streamIds(b.redisUrl, b.stream).reverse();
    dom = await page.$$eval('#events li[data-event-id]', (lis) => lis.map((l) => l.dataset.eventId));
    return xr.length <= 50 && dom.join() === xr.join();
  }, 10000, 'the event list to match XRANGE').catch((e) => {
    throw new Error(`${e.message}\nlist:   ${dom.join(' ')}\nXRANGE: ${xr.join(' ')}`);
  });
  assert.equal(new Set(dom).size, dom.length, 'no duplicate data-event-id');
  assert.equal(await page.evaluate(() => window.__galaxyDuplicates), 0, 'the server sent no entry twice');
  assert.ok(await page.evaluate(() => window.__notReloaded === true), 'the page was not reloaded');
  await shot('page-reconnected.png');
});

test('the filters narrow the table and survive a reload via the URL', async () => {
  const all = Object.values(GAMES).sort();
  assert.deepEqual(await visibleGames(), all);
  await page.type('#filter-q', 'charlie');
  assert.deepEqual(await visibleGames(), [GAMES.probe]);
  await page.$eval('#filter-q', (e) => { e.value = ''; e.dispatchEvent(new Event('input')); });
  // The exited engines' rows may have moved on to inspect_unhealthy: expect what the rows say.
  const stateOf = await page.$$eval('#games tbody tr', (trs) => Object.fromEntries(trs.map((t) => [t.dataset.game, t.dataset.state])));
  for (const st of ['exited', 'unhealthy']) {
    await page.select('#filter-state', st);
    assert.deepEqual(await visibleGames(), all.filter((g) => stateOf[g] === st), st);
  }
  await page.click('#count-healthy'); // a count is a shortcut for the state filter
  assert.equal(await page.$eval('#filter-state', (e) => e.value), 'healthy');
  assert.deepEqual(await visibleGames(), [GAMES.probe, GAMES.odd].sort());
  await page.select('#filter-host', HOST_ID);
  await page.type('#filter-q', 'odd');
  const url = new URL(page.url());
  assert.deepEqual([url.searchParams.get('q'), url.searchParams.get('state'), url.searchParams.get('host')], ['odd', 'healthy', HOST_ID]);
  await page.reload({ waitUntil: 'load' });
  await waitFor(async () => (await page.$$eval('#games tbody tr', (t) => t.length)) === all.length, 10000, 'rows after reload');
  assert.deepEqual(await page.evaluate(() => [document.querySelector('#filter-q').value,
    document.querySelector('#filter-state').value, document.querySelector('#filter-host').value]), ['odd', 'healthy', HOST_ID]);
  assert.deepEqual(await visibleGames(), [GAMES.odd]);
  await shot('page-filtered.png');
  // A host filter with no game on it shows none.
  await page.goto(base + '/?host=no-such-host', { waitUntil: 'load' });
  await waitFor(async () => (await page.$$eval('#games tbody tr', (t) => t.length)) === all.length, 10000, 'rows');
  assert.deepEqual(await visibleGames(), []);
});

test('the page broke no Content-Security-Policy rule', () => {
  assert.deepEqual(cspViolations, []);
});
