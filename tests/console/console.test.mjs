// The console's browser scenarios: `node console.test.mjs SCENARIO`, run by test_console.py.
// Drives Debian's Chromium through playwright-core against volmand's HTTPS listener and
// checks the outcome in the page and through the API (bearer tokens). Exits non-zero,
// saying why, when a check fails; any uncaught page error or CSP violation also fails.
//
// Environment: VOLMAN_URL, VOLMAN_TOKEN_{A,B,ADMIN}, VOLMAN_TENANT_{A,B}, VOLMAN_IMAGE,
// VOLMAN_ARTIFACTS (screenshots), VOLMAN_CASE (JSON: the names the scenario works on).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, request } from 'playwright-core';

const env = process.env;
const BASE = env.VOLMAN_URL;
const CASE = JSON.parse(env.VOLMAN_CASE || '{}');
const ART = env.VOLMAN_ARTIFACTS || new URL('./artifacts', import.meta.url).pathname;
const IMAGE = env.VOLMAN_IMAGE || 'localhost/bb:latest';
const T = { a: env.VOLMAN_TENANT_A, b: env.VOLMAN_TENANT_B };
const TOK = { a: env.VOLMAN_TOKEN_A, b: env.VOLMAN_TOKEN_B, admin: env.VOLMAN_TOKEN_ADMIN };
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run'];
const t0 = Date.now();
const log = (...a) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a);

// ---- helpers --------------------------------------------------------------

let browser;
const pages = [];

async function newPage({ width = 1280, height = 900 } = {}) {
  const ctx = await browser.newContext({ baseURL: BASE, ignoreHTTPSErrors: true, viewport: { width, height } });
  const page = await ctx.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push('page error: ' + e.message));
  page.on('console', (m) => {
    // A failed request's status (401 before login, 404 of another tenant's app) is the API
    // speaking, not a fault; anything else the console logs as an error is one (CSP included).
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) page.problems.push('console error: ' + m.text());
  });
  pages.push(page);
  return page;
}

const tid = (scope, id) => scope.getByTestId(id, { exact: true });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* Polls fn until it returns something true; fails naming what it waited for. */
async function until(what, fn, timeout = 20000) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) { last = e.message; }
    if (Date.now() > end) throw new Error(`${what}: not within ${timeout / 1000} s (last: ${JSON.stringify(last)})`);
    await sleep(100);
  }
}
async function text(loc) { return ((await loc.textContent()) || '').trim(); }
async function waitText(loc, pred, what, timeout) {
  let seen;
  await until(what, async () => { seen = await text(loc); return pred(seen); }, timeout)
    .catch((e) => { throw new Error(`${e.message}; text: ${JSON.stringify(seen)}`); });
  return seen;
}
async function shot(page, name) {
  fs.mkdirSync(ART, { recursive: true });
  await page.screenshot({ path: path.join(ART, name + '.png'), fullPage: true });
  log('screenshot', name);
}
async function noHorizontalScroll(page, what) {
  const [sw, cw] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  assert.ok(sw <= cw + 1, `${what}: the page is ${sw}px wide in a ${cw}px viewport`);
}

const apiContexts = {};
/* The HTTPS API as a token holder (bearer: no cookie, so no CSRF token either). */
async function api(who, method, p, data) {
  apiContexts[who] ??= await request.newContext({ baseURL: BASE, ignoreHTTPSErrors: true,
    extraHTTPHeaders: who ? { Authorization: 'Bearer ' + TOK[who] } : {} });
  const r = await apiContexts[who].fetch(p, { method, data });
  const body = await r.text();
  return { status: r.status(), json: body ? JSON.parse(body) : null };
}
const appPath = (t, e, a) => `/v1/tenants/${t}/envs/${e}/apps/${a}`;
const heading = (page, name) => page.getByRole('heading', { level: 1, name, exact: true });

async function login(page, who) {
  await page.goto('/');
  await page.getByLabel('Access token').fill(TOK[who]);
  await page.getByRole('button', { name: 'Log in' }).click();
  await heading(page, 'Apps').waitFor();
}
async function go(page, hash, h1) {
  await page.evaluate((h) => { location.hash = h; }, hash);
  if (h1) await heading(page, h1).waitFor();
}
/* Waits for the volumes table to have loaded what the last filter change asked for. */
const settled = (page) => page.locator('[data-testid="volumes-table"][aria-busy="false"]').waitFor();
const appRow = (page, t, e, a) => page.locator(`[data-testid="app-row"][data-app="${t}/${e}/${a}"]`);
const volRow = (page, name) => page.locator(`[data-testid="volume-row"][data-name="${name}"]`);
const effectiveSource = (page, field) =>
  page.locator(`[data-testid="effective-row"][data-field="${field}"] [data-testid="effective-source"]`);

/* Creates an app through the apps page's form; lands on its (not yet saved) page. */
async function newApp(page, e, a) {
  await tid(page, 'new-env').fill(e);
  await tid(page, 'new-app').fill(a);
  await tid(page, 'new-app-submit').click();
  await heading(page, `App ${a}`).waitFor();
  await tid(page, 'new-app-note').waitFor();
}

// ---- 1. login -------------------------------------------------------------

async function scLogin() {
  const page = await newPage();
  await page.goto('/');
  const token = page.getByLabel('Access token');
  await token.waitFor();
  assert.equal(await token.getAttribute('type'), 'password');
  await shot(page, 'login');

  // a well-formed token that does not exist: the page shows what the API says
  const bad = TOK.a.slice(0, -6) + (TOK.a.endsWith('000000') ? '111111' : '000000');
  const r = await api(null, 'POST', '/v1/session', { token: bad });
  assert.equal(r.status, 401, JSON.stringify(r));
  const want = r.json.error.message;
  await token.fill(bad);
  await page.getByRole('button', { name: 'Log in' }).click();
  await waitText(tid(page, 'login-message'), (t) => t === want, 'the API message for a bad token');
  assert.ok(await tid(page, 'login-message').isVisible());
  assert.equal(await page.getByRole('alert').filter({ hasText: want }).count(), 1, 'the message is an alert');
  await shot(page, 'login-error');

  // by keyboard alone: the field keeps the focus, the bad token selected; Enter logs in
  assert.equal(await page.evaluate(() => document.activeElement.id), 'token');
  await page.keyboard.type(TOK.a);
  await page.keyboard.press('Enter');
  await heading(page, 'Apps').waitFor();
  assert.equal(await text(tid(page, 'who')), `Tenant ${T.a}`);
  // nothing stored: the session cookie is HttpOnly, the CSRF token lives in memory
  assert.deepEqual(await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]), [0, 0, '']);
  assert.ok(!(await tid(page, 'tenant-select').isVisible()), 'a tenant has no tenant selector');
  await tid(page, 'new-app-form').waitFor();
  await tid(page, 'no-apps').waitFor();
  assert.equal(await tid(page, 'new-tenant').inputValue(), T.a);
  await shot(page, 'apps');

  // a reload keeps the session and gets the CSRF token back (GET /v1/session) ...
  await page.reload();
  await heading(page, 'Apps').waitFor();
  assert.equal(await page.getByLabel('Access token').count(), 0);
  // ... which logging out needs (DELETE with X-CSRF-Token): after it, a reload shows the login
  await tid(page, 'logout').click();
  await waitText(tid(page, 'login-message'), (t) => /logged out/i.test(t), 'the logged-out message');
  await page.reload();
  await page.getByLabel('Access token').waitFor();
  assert.equal(await heading(page, 'Apps').count(), 0);
}

// ---- 2. a path's volume name, before saving ---------------------------------

async function scAddPath() {
  const { env: e, app: a } = CASE;
  const page = await newPage();
  await login(page, 'a');
  await newApp(page, e, a);
  assert.equal(await tid(page, 'path-input').count(), 0);

  await tid(page, 'add-path').click();
  const input = page.getByLabel('Path 1', { exact: true });
  assert.ok(await input.evaluate((el) => el === document.activeElement), 'the new path field has the focus');
  await input.pressSequentially('/var/lib/state', { delay: 15 });
  const want = `volman-${T.a}-${e}-${a}-var-lib-state`;
  await waitText(tid(page, 'path-volume').first(), (t) => t.includes(want), 'the resolved volume name');
  // the effective config says where each value comes from
  await waitText(effectiveSource(page, 'writeableVolumes'), (t) => t === 'app', 'writeableVolumes from the app layer');
  assert.equal(await text(effectiveSource(page, 'networkMode')), 'global');
  assert.equal(await text(effectiveSource(page, 'pidsLimit')), 'default');
  assert.match(await text(page.locator('[data-testid="effective-row"][data-field="writeableVolumes"] [data-testid="effective-value"]')), /\/var\/lib\/state/);

  // a second path, resolved too, then removed
  await tid(page, 'add-path').click();
  await page.getByLabel('Path 2', { exact: true }).fill('/opt/cache');
  await waitText(tid(page, 'path-volume').nth(1), (t) => t.includes(`volman-${T.a}-${e}-${a}-opt-cache`), 'the second name');
  await waitText(tid(page, 'save-status'), (t) => /unsaved/i.test(t), 'the unsaved-changes note');
  await shot(page, 'app-new');
  await page.getByRole('button', { name: 'Remove path 2' }).click();
  assert.equal(await tid(page, 'path-input').count(), 1);
  assert.equal(await tid(page, 'path-input').inputValue(), '/var/lib/state');

  // nothing is saved yet
  await sleep(400); // past the debounce: a check must not save either
  const cfg = await api('a', 'GET', appPath(T.a, e, a) + '/config');
  assert.equal(cfg.status, 200, JSON.stringify(cfg));
  assert.deepEqual(cfg.json, {});
  assert.equal((await api('a', 'GET', appPath(T.a, e, a))).status, 404);
}

// ---- 3. a bad path -----------------------------------------------------------

async function scBadPath() {
  const { env: e, app: a } = CASE;
  const page = await newPage();
  await login(page, 'a');
  await go(page, `#/apps/${T.a}/${e}/${a}`, `App ${a}`);
  await until('the saved path', async () => (await tid(page, 'path-input').count()) === 1);
  assert.equal(await tid(page, 'path-input').inputValue(), '/data');
  const dataName = `volman-${T.a}-${e}-${a}-data`;
  await waitText(tid(page, 'path-volume').first(), (t) => t.includes(dataName), "/data's volume name");

  for (const bad of ['tmp/relative', '/proc/x']) {
    const r = await api('a', 'POST', appPath(T.a, e, a) + '/config/check', { writeableVolumes: ['/data', bad] });
    assert.equal(r.status, 400, JSON.stringify(r));
    const want = r.json.error.message;
    if (bad === 'tmp/relative') await tid(page, 'add-path').click();
    await page.getByLabel('Path 2', { exact: true }).fill(bad);
    const err = tid(page, 'path-error').nth(1);
    await waitText(err, (t) => t === want, `the API's message for ${bad} next to its field`);
    assert.ok(await err.isVisible());
    assert.equal(await page.getByLabel('Path 2', { exact: true }).getAttribute('aria-invalid'), 'true');
    assert.ok(!(await tid(page, 'path-error').first().isVisible()), 'no error next to the good path');
    // the good path keeps its name; the bad one has none
    assert.ok((await text(tid(page, 'path-volume').first())).includes(dataName));
    assert.equal(await text(tid(page, 'path-volume').nth(1)), '');
    if (bad === 'tmp/relative') await shot(page, 'app-bad-path');
  }

  // Save sends it anyway (the API judges): refused, and the message shown is PUT's
  const put = await api('a', 'PUT', appPath(T.a, e, a) + '/config', { writeableVolumes: ['/data', '/proc/x'] });
  assert.equal(put.status, 400, JSON.stringify(put));
  await tid(page, 'save-config').click();
  await waitText(tid(page, 'save-status'), (t) => t === 'Not saved.', 'the not-saved note');
  await waitText(tid(page, 'path-error').nth(1), (t) => t === put.json.error.message, "PUT's message");
  let cfg = await api('a', 'GET', appPath(T.a, e, a) + '/config');
  assert.deepEqual(cfg.json, { writeableVolumes: ['/data'] });

  // a field the tenant may not loosen: the API's 403 message next to that field
  await page.getByRole('button', { name: 'Remove path 2' }).click();
  await until('the path error gone', async () => !(await tid(page, 'path-error').first().isVisible()));
  const over = await api('a', 'POST', appPath(T.a, e, a) + '/config/check', { writeableVolumes: ['/data'], pidsLimit: 999999 });
  assert.equal(over.status, 403, JSON.stringify(over));
  await page.getByText('Other settings').click();
  await page.getByLabel('Process limit').fill('999999');
  await waitText(page.locator('#cfg-pidsLimit-err'), (t) => t === over.json.error.message, "the API's message next to the field");
  assert.equal(await page.getByLabel('Process limit').getAttribute('aria-invalid'), 'true');
  cfg = await api('a', 'GET', appPath(T.a, e, a) + '/config');
  assert.deepEqual(cfg.json, { writeableVolumes: ['/data'] });
}

// ---- 4. save, deploy, running, in use ----------------------------------------

async function scDeploy() {
  const { env: e, app: a } = CASE;
  const page = await newPage();
  await login(page, 'a');
  await newApp(page, e, a);
  await tid(page, 'add-path').click();
  await page.getByLabel('Path 1', { exact: true }).fill('/var/lib/state');
  const vol = `volman-${T.a}-${e}-${a}-var-lib-state`;
  await waitText(tid(page, 'path-volume').first(), (t) => t.includes(vol), 'the volume name');
  await tid(page, 'save-config').click();
  await waitText(tid(page, 'flash'), (t) => t.includes('Saved'), 'the saved message');
  assert.equal(await page.evaluate(() => location.hash), `#/apps/${T.a}/${e}/${a}`);
  assert.deepEqual((await api('a', 'GET', appPath(T.a, e, a) + '/config')).json, { writeableVolumes: ['/var/lib/state'] });
  await waitText(tid(page, 'status-generation'), (t) => t === 'not deployed', 'not deployed yet');
  assert.equal(await tid(page, 'new-app-note').count(), 0);

  await page.getByLabel('Image').fill(IMAGE);
  await page.getByLabel('Command (optional)').fill("sh -c 'sleep 3600'");
  await page.getByLabel('Strategy').selectOption('recreate');
  await tid(page, 'deploy-submit').click();
  const container = `volman-${T.a}-${e}-${a}-1`;
  await waitText(tid(page, 'deploy-status'), (t) => t === `Deployed generation 1: container ${container}.`, 'the deploy', 90000);
  await waitText(tid(page, 'status-generation'), (t) => t === 'generation 1', 'the deployed generation');
  await waitText(tid(page, 'container-state').first(), (t) => t === 'running', 'the container running', 30000);
  assert.equal(await tid(page, 'container-row').count(), 1);
  assert.match(await text(tid(page, 'container-row')), new RegExp(container));
  await waitText(tid(page, 'app-volume-row').first(), (t) => t.includes(vol) && t.includes('in use'), 'the volume in use');
  const dep = await api('a', 'GET', appPath(T.a, e, a));
  assert.equal(dep.json.deployed.generation, 1);
  assert.deepEqual(dep.json.deployed.image, IMAGE);
  await shot(page, 'app');

  await page.setViewportSize({ width: 390, height: 844 });
  await sleep(100);
  await noHorizontalScroll(page, 'the app page at 390px');
  assert.ok(await tid(page, 'save-config').isVisible());
  await shot(page, 'app-phone');
  await page.setViewportSize({ width: 1280, height: 900 });

  await page.getByRole('link', { name: 'Volumes', exact: true }).click();
  await heading(page, 'Volumes').waitFor();
  const row = volRow(page, vol);
  await row.waitFor();
  assert.equal(await text(tid(row, 'volume-user')), `app ${a} (container ${container})`);
  assert.equal(await tid(row, 'unused-badge').count(), 0);
  assert.ok(await tid(row, 'delete-volume').isDisabled(), 'no delete while in use');
  await waitText(tid(row, 'volume-usage'), (t) => /^\d+(\.\d)? (B|KiB|MiB)$/.test(t), 'the usage');
  await shot(page, 'volumes');
  await page.setViewportSize({ width: 390, height: 844 });
  await sleep(100);
  await noHorizontalScroll(page, 'the volumes page at 390px');
  await shot(page, 'volumes-phone');
  await page.setViewportSize({ width: 1280, height: 900 });

  await page.getByRole('link', { name: 'Apps', exact: true }).click();
  await heading(page, 'Apps').waitFor();
  const ar = appRow(page, T.a, e, a);
  assert.equal(await text(tid(ar, 'app-generation')), 'generation 1');
  await waitText(tid(ar, 'app-containers'), (t) => t === '1 running', 'the apps page counting it running');
  console.log('deployed');
}

// ---- 5. delete -------------------------------------------------------------

async function scDelete() {
  const { env: e, app: a, volumes } = CASE;
  const page = await newPage();
  await login(page, 'a');
  await go(page, `#/apps/${T.a}/${e}/${a}`, `App ${a}`);
  await waitText(tid(page, 'status-generation'), (t) => t === 'generation 1', 'the deployed app');

  const open = async () => {
    await tid(page, 'delete-app').click();
    const dlg = page.getByRole('dialog');
    await dlg.waitFor();
    await until('the volumes listed', async () => (await tid(dlg, 'delete-volume-list').locator('li').count()) === volumes.length);
    return dlg;
  };
  let dlg = await open();
  const listed = (await tid(dlg, 'delete-volume-list').locator('li').allTextContents()).map((s) => s.trim()).sort();
  assert.deepEqual(listed, [...volumes].sort());
  assert.equal(await page.evaluate(() => document.activeElement.dataset.testid), 'confirm-cancel', 'Cancel has the focus');
  await shot(page, 'dialog-delete-app');
  // Escape cancels: nothing removed, the focus back on the button
  await page.keyboard.press('Escape');
  await until('the dialog closed', async () => !(await dlg.isVisible()));
  assert.equal(await page.evaluate(() => document.activeElement.dataset.testid), 'delete-app');
  assert.equal((await api('a', 'GET', appPath(T.a, e, a))).status, 200);

  dlg = await open();
  await tid(dlg, 'confirm-ok').click();
  await heading(page, 'Apps').waitFor();
  await waitText(tid(page, 'flash'), (t) => t.includes(`Deleted app ${a}`) && t.includes('1 container') &&
    t.includes(`${volumes.length} volumes`), 'the deleted message');
  assert.equal(await appRow(page, T.a, e, a).count(), 0);
  assert.equal((await api('a', 'GET', appPath(T.a, e, a))).status, 404);
  const left = await api('a', 'GET', `/v1/volumes?filter=tenant=${T.a}&filter=env=${e}&filter=app=${a}`);
  assert.deepEqual(left.json.volumes, []);
}

// ---- 6. tenant isolation -----------------------------------------------------

async function scIsolation() {
  const { a_app, a_vols, a_container, b_app, b_vols } = CASE;
  const secrets = [T.a, a_app, a_container, ...a_vols];
  const page = await newPage();
  const leaks = async (where, list = secrets) => {
    const html = await page.content();
    const seen = list.filter((s) => html.includes(s));
    assert.deepEqual(seen, [], `${where} shows tenant A's names`);
  };
  await login(page, 'b');
  assert.ok(!(await tid(page, 'tenant-select').isVisible()));
  const row = appRow(page, T.b, 'prod', b_app);
  await row.waitFor();
  await waitText(tid(row, 'app-containers'), (t) => t === '1 running', "B's app loaded");
  await leaks('the apps page');

  await go(page, '#/volumes', 'Volumes');
  const vrow = volRow(page, b_vols[0]);
  await vrow.waitFor();
  await waitText(tid(vrow, 'volume-usage'), (t) => t !== '…', 'the usage loaded');
  await leaks('the volumes page');
  // nor does a prune as B offer A's volumes
  await tid(page, 'prune').click();
  const dlg = page.getByRole('dialog');
  await dlg.waitFor();
  await leaks('the prune dialog');
  await tid(dlg, 'confirm-cancel').click();

  // A's app by its URL: not found, and nothing of it shown
  await go(page, `#/apps/${T.a}/prod/${a_app}`);
  await tid(page, 'not-found').waitFor();
  assert.equal(await tid(page, 'config-form').count(), 0);
  await leaks("A's app page", [a_container, ...a_vols]);
  await shot(page, 'not-found');
}

// ---- 7. admin ------------------------------------------------------------------

async function scAdmin() {
  const { a_app, a_vols, b_app, b_vols } = CASE;
  const page = await newPage();
  await login(page, 'admin');
  assert.equal(await text(tid(page, 'who')), 'Admin');
  const sel = page.getByLabel('Tenant', { exact: true }).first();
  assert.equal(await sel.getAttribute('data-testid'), 'tenant-select');
  await until('both tenants in the selector', async () => {
    const opts = await sel.locator('option').evaluateAll((os) => os.map((o) => o.value));
    return opts.includes(T.a) && opts.includes(T.b) && opts.includes('');
  });
  const rowA = appRow(page, T.a, 'dev', a_app), rowB = appRow(page, T.b, 'dev', b_app);
  await rowA.waitFor();
  await rowB.waitFor();
  await shot(page, 'admin-apps');

  const only = async (what, show, hide) => {
    await show.waitFor();
    await until(`${what}: the other tenant's row gone`, async () => (await hide.count()) === 0);
  };
  await sel.selectOption(T.a);
  await only('apps of A', rowA, rowB);
  await sel.selectOption(T.b);
  await only('apps of B', rowB, rowA);

  await go(page, '#/volumes', 'Volumes');
  await only('volumes of B', volRow(page, b_vols[0]), volRow(page, a_vols[0]));
  await sel.selectOption(T.a);
  await only('volumes of A', volRow(page, a_vols[0]), volRow(page, b_vols[0]));
  await sel.selectOption('');
  await volRow(page, a_vols[0]).waitFor();
  await volRow(page, b_vols[0]).waitFor();
  await shot(page, 'admin-volumes');

  // the admin opens any tenant's app
  await go(page, `#/apps/${T.b}/dev/${b_app}`, `App ${b_app}`);
  await waitText(tid(page, 'status-generation'), (t) => t === 'generation 1', "B's app state");
}

// ---- the volumes page ------------------------------------------------------------

async function scVolumes() {
  const { app, in_use, orphans } = CASE;
  const page = await newPage();
  await login(page, 'a');
  await go(page, '#/volumes', 'Volumes');
  for (const n of [in_use, ...Object.values(orphans)]) await volRow(page, n).waitFor();
  const cells = async (n) => (await volRow(page, n).locator('td').allTextContents()).map((s) => s.trim());
  // App, Driver, Size limit, Usage, In use by, Created, Actions
  const tm = await cells(orphans.tmpfs);
  assert.equal(tm[1], 'tmpfs');
  assert.equal(tm[2], '16m');
  assert.equal((await cells(orphans.local))[2], 'none');
  assert.match(await text(tid(volRow(page, in_use), 'volume-user')), new RegExp(`^app ${app} \\(container volman-`));
  assert.ok(await tid(volRow(page, in_use), 'delete-volume').isDisabled());
  for (const n of Object.values(orphans)) {
    assert.equal(await text(tid(volRow(page, n), 'volume-user')), 'unused');
    assert.ok(await tid(volRow(page, n), 'delete-volume').isEnabled());
  }

  // filters
  const count = (n) => volRow(page, n).count();
  await page.getByLabel('Driver').selectOption('tmpfs');
  await settled(page);
  assert.deepEqual([await count(orphans.tmpfs), await count(orphans.local), await count(in_use)], [1, 0, 0], 'driver tmpfs');
  await page.getByLabel('Driver').selectOption('');
  await page.getByLabel('Unused only').check();
  await settled(page);
  assert.deepEqual([await count(orphans.local), await count(orphans.tmpfs), await count(in_use)], [1, 1, 0], 'unused only');
  await page.getByLabel('Unused only').uncheck();
  await page.getByLabel('App', { exact: true }).fill(app);
  await tid(page, 'apply-filters').click();
  await settled(page);
  assert.deepEqual([await count(in_use), await count(orphans.local)], [1, 0], 'app filter');
  await page.getByLabel('App', { exact: true }).fill('');
  await page.getByLabel('Env').fill('nowhere');
  await tid(page, 'apply-filters').click();
  await settled(page);
  assert.equal(await tid(page, 'no-volumes').count(), 1, 'env filter: nothing matches');
  await page.getByLabel('Env').fill('qa');
  await tid(page, 'apply-filters').click();
  await settled(page);
  assert.equal(await count(orphans.victim), 1);
  assert.equal(await page.locator('[data-testid="volume-row"]').count(), 4, 'env qa: the 4 volumes of this test');

  // delete one, after its confirmation
  await page.getByRole('button', { name: `Delete volume ${orphans.victim}` }).click();
  let dlg = page.getByRole('dialog');
  await dlg.waitFor();
  assert.equal(await text(dlg.getByRole('heading')), `Delete volume ${orphans.victim}?`);
  await shot(page, 'dialog-delete-volume');
  await tid(dlg, 'confirm-ok').click();
  await waitText(tid(page, 'volumes-status'), (t) => t === `Deleted volume ${orphans.victim}.`, 'the deleted message');
  await settled(page);
  assert.equal(await volRow(page, orphans.victim).count(), 0);
  assert.equal((await api('a', 'GET', '/v1/volumes/' + orphans.victim)).status, 404);

  // prune: the dry run's list first, then the real one
  await tid(page, 'prune').click();
  dlg = page.getByRole('dialog');
  await dlg.waitFor();
  const listed = (await tid(dlg, 'prune-list').locator('li').allTextContents()).map((s) => s.trim()).sort();
  assert.deepEqual(listed, [orphans.local, orphans.tmpfs].sort());
  assert.equal((await api('a', 'GET', '/v1/volumes/' + orphans.local)).status, 200, 'a dry run removes nothing');
  await shot(page, 'dialog-prune');
  await tid(dlg, 'confirm-ok').click();
  await waitText(tid(page, 'volumes-status'), (t) => t.startsWith('Pruned 2 volumes'), 'the pruned message');
  await settled(page);
  assert.equal(await volRow(page, orphans.local).count(), 0);
  await volRow(page, in_use).waitFor();
  for (const n of [orphans.local, orphans.tmpfs]) assert.equal((await api('a', 'GET', '/v1/volumes/' + n)).status, 404);
}

// ---- main ------------------------------------------------------------------------

const SCENARIOS = { login: scLogin, 'add-path': scAddPath, 'bad-path': scBadPath, deploy: scDeploy,
  delete: scDelete, isolation: scIsolation, admin: scAdmin, volumes: scVolumes };

async function main() {
  const name = process.argv[2];
  const fn = SCENARIOS[name];
  if (!fn) throw new Error(`no scenario ${JSON.stringify(name)}; have: ${Object.keys(SCENARIOS).join(', ')}`);
  for (const k of ['VOLMAN_URL', 'VOLMAN_TOKEN_A', 'VOLMAN_TOKEN_B', 'VOLMAN_TOKEN_ADMIN', 'VOLMAN_TENANT_A', 'VOLMAN_TENANT_B']) {
    if (!env[k]) throw new Error(`${k} is not set`);
  }
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout: 60000 });
  log(`scenario ${name}: chromium ${browser.version()} against ${BASE}`);
  try {
    await fn();
    for (const p of pages) assert.deepEqual(p.problems, [], 'errors in the page');
    log(`scenario ${name}: passed`);
  } catch (e) {
    for (const p of pages) {
      if (p.isClosed()) continue;
      if (p.problems.length) console.log('page problems:', p.problems);
      try {
        console.log('page at failure:', p.url(), '\n' + (await p.locator('body').innerText()).slice(0, 4000));
        await shot(p, `failed-${name}`);
      } catch (x) { /* the browser may be gone */ }
    }
    throw e;
  } finally {
    await browser.close();
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(`FAILED: ${e.stack || e}`);
  process.exit(1);
});
