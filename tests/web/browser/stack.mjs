// The real stack for the browser test and bench/web: processes, containers, a private database
// and stream, and Debian's chromium. Everything started here is registered and torn down by
// cleanup(), which is synchronous so it also runs from 'exit' and signal handlers.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

export const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
export const IMAGE = process.env.GALAXY_FAKE_ENGINE_IMAGE || 'galaxy/fake-engine:test';
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function requireEnv(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (source the env file of scripts/services)`);
  return v;
}

export function binDir() {
  const d = process.env.GALAXY_BIN_DIR || path.join(REPO, 'build/debug/bin');
  for (const b of ['runtime-manager', 'galaxy-health']) {
    if (!fs.existsSync(path.join(d, b))) throw new Error(`${path.join(d, b)} is missing (GALAXY_BIN_DIR)`);
  }
  return d;
}

export function sh(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', timeout: opts.timeout ?? 60000, stdio: ['ignore', 'pipe', 'pipe'], ...opts }).trim();
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// Polls fn until it returns a truthy value; throws with `what` at the deadline.
export async function waitFor(fn, ms, what, every = 100) {
  const until = Date.now() + ms;
  let last;
  for (;;) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}${last instanceof Error ? ': ' + last.message : ''}`);
    await sleep(every);
  }
}

const children = new Set();
const containers = new Set();
const cleanups = [];

// A child whose output goes to LOGDIR/NAME.log; kill() stops it (SIGTERM, then SIGKILL).
export function start(name, cmd, args, { logDir, env } = {}) {
  const log = fs.openSync(path.join(logDir || os.tmpdir(), name + '.log'), 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', log, log], env: { ...process.env, ...env } });
  fs.closeSync(log);
  child.exited = new Promise((r) => child.once('exit', (code, sig) => r({ code, sig })));
  child.once('exit', () => children.delete(child));
  children.add(child);
  child.stop = async (signal = 'SIGTERM', ms = 5000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const t = setTimeout(() => child.kill('SIGKILL'), ms);
    await child.exited;
    clearTimeout(t);
  };
  return child;
}

export function docker(...args) { return sh('docker', args, { timeout: 120000 }); }
export function dockerRun(args) {
  const id = docker('run', '-d', ...args);
  containers.add(id);
  return id;
}
export function ipOf(id) { return docker('inspect', '--format', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', id); }

// The fake engine's control endpoints (tools/fake-engine): /control/status?code=500, /control/exit?code=3...
export async function control(ip, target) {
  try {
    const r = await fetch(`http://${ip}:8080${target}`, { method: 'POST', signal: AbortSignal.timeout(5000) });
    return r.status;
  } catch (e) {
    if (target.startsWith('/control/exit')) return 0; // it may exit before answering
    throw e;
  }
}

export function redis(url, ...args) { return sh('redis-cli', ['-u', url, ...args]); }
// XRANGE ids of the whole stream, oldest first.
export function streamIds(url, stream) {
  const out = sh('redis-cli', ['-u', url, '--json', 'XRANGE', stream, '-', '+'], { maxBuffer: 64 << 20 });
  return JSON.parse(out || '[]').map((e) => e[0]);
}

export function withDatabase(pgUrl, db) {
  const u = new URL(pgUrl);
  u.pathname = '/' + db;
  return u.toString();
}
export function psql(url, sql) { return sh('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql]); }

// A private database and stream, dropped by cleanup().
export function privateBackends(prefix) {
  const redisUrl = requireEnv('GALAXY_REDIS_URL');
  const pgUrl = requireEnv('GALAXY_POSTGRES_URL');
  const tag = `${process.pid}_${Date.now().toString(36)}`;
  const db = `${prefix}_${tag}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const stream = `${prefix}:${tag}`;
  psql(pgUrl, `CREATE DATABASE ${db}`);
  const dropStream = () => {
    // The stream and the daemon's per-host side keys ({stream}:hwm:<host>, {stream}:idmp:<host>).
    redis(redisUrl, 'EVAL', "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end return redis.call('DEL', ARGV[2])",
      '0', `{${stream}}:*`, stream);
  };
  onCleanup(() => psql(pgUrl, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`));
  onCleanup(dropStream);
  return { redisUrl, pgUrl, dbUrl: withDatabase(pgUrl, db), db, stream };
}

export const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];

export async function launchBrowser() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'galaxy-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: process.env.GALAXY_CHROMIUM || '/usr/bin/chromium',
    args: [...CHROMIUM_ARGS, `--user-data-dir=${profile}`],
    protocolTimeout: 60000,
  });
  const proc = browser.process();
  onCleanup(() => { if (proc && proc.exitCode === null) proc.kill('SIGKILL'); });
  onCleanup(() => fs.rmSync(profile, { recursive: true, force: true }));
  return browser;
}

export function onCleanup(fn) { cleanups.push(fn); }

let cleaned = false;
export function cleanup() {
  if (cleaned) return;
  cleaned = true;
  for (const c of children) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
  for (const id of containers) { try { sh('docker', ['rm', '-f', id], { timeout: 60000 }); } catch { /* gone */ } }
  // Later registrations first: the browser before its profile, the stream before the database.
  for (const fn of cleanups.reverse()) { try { fn(); } catch (e) { console.error('cleanup:', e.message); } }
}
process.once('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => { cleanup(); process.exit(130); });

export function artifactsDir(name) {
  const d = process.env.GALAXY_ARTIFACTS_DIR || fs.mkdtempSync(path.join(os.tmpdir(), name + '-'));
  fs.mkdirSync(d, { recursive: true });
  return d;
}

// galaxy-health web on PORT against the backends; resolves once /api/v1/games answers 200.
export async function startWeb(bin, { port, b, logDir, extra = [] }) {
  const web = start('galaxy-health-web', path.join(bin, 'galaxy-health'), ['web', '--listen', `127.0.0.1:${port}`,
    '--redis-url', b.redisUrl, '--postgres-url', b.dbUrl, '--stream', b.stream, ...extra], { logDir });
  await waitFor(async () => {
    if (web.exitCode !== null) throw new Error(`galaxy-health web exited ${web.exitCode} (see ${logDir}/galaxy-health-web.log)`);
    const r = await fetch(`http://127.0.0.1:${port}/api/v1/games`, { signal: AbortSignal.timeout(2000) });
    return r.status === 200;
  }, 20000, 'galaxy-health web to answer /api/v1/games');
  return web;
}
