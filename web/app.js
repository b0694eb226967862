'use strict';
/* volman console: a one-page app over volmand's REST API (docs/api.md,
 * docs/apps.md), served from volmand itself under a strict CSP.
 * No framework and no build step: h() builds elements (text from the API is
 * never parsed as HTML), a hash router picks the view, and every API error is
 * shown with the message the API wrote. The session cookie is HttpOnly; the
 * only secret kept here is the CSRF token, in memory (a reload asks
 * GET /v1/session for it again). */

// ---- DOM and formatting helpers ----------------------------------------

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  return put(el, kids);
}
/* Appends kids (nested arrays flattened; null and false left out) to el. */
function put(el, kids) {
  for (const kid of kids.flat(Infinity)) {
    if (kid != null && kid !== false) el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}
/* Replaces el's children with kids. */
function fill(el, ...kids) {
  el.replaceChildren();
  return put(el, kids);
}
const $ = (sel, root = document) => root.querySelector(sel);
const enc = encodeURIComponent;
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
let uid = 0;
const newId = (p) => `${p}-${++uid}`;

function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (isNaN(d)) return iso;
  return h('time', { datetime: iso }, d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC');
}

function fmtBytes(n) {
  if (typeof n !== 'number') return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + ' ' + units[i];
}

/* A deploy record (docs/apps.md: container id, container_name, deployed_at in unix
 * seconds), also read in the {container: {id, name}} form. */
function deployOf(d) {
  if (!d) return null;
  const c = d.container;
  const at = typeof d.deployed_at === 'number' ? new Date(d.deployed_at * 1000).toISOString() : d.deployed_at;
  return { generation: d.generation, image: d.image, strategy: d.strategy, at,
    containerName: c && typeof c === 'object' ? c.name : d.container_name };
}

function plural(n, word) { return `${n} ${word}${n === 1 ? '' : 's'}`; }

/* "sh -c 'sleep 3600'" -> ["sh","-c","sleep 3600"]; a JSON array is taken as it is. */
function parseCommand(text) {
  const s = text.trim();
  if (!s) return null;
  if (s.startsWith('[')) {
    let v;
    try { v = JSON.parse(s); } catch (e) { throw new Error('The command is not valid JSON: ' + e.message); }
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error('The command must be a JSON array of strings');
    return v;
  }
  const out = [];
  let cur = null, q = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q) {
      if (c === q) q = null;
      else if (c === '\\' && q === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === "'" || c === '"') { q = c; cur = cur ?? ''; }
    else if (c === '\\' && i + 1 < s.length) cur = (cur ?? '') + s[++i];
    else if (/\s/.test(c)) { if (cur !== null) { out.push(cur); cur = null; } }
    else cur = (cur ?? '') + c;
  }
  if (q) throw new Error(`The command has an unclosed ${q} quote`);
  if (cur !== null) out.push(cur);
  return out;
}

function errorBox(err, testid = 'error') {
  return h('p', { class: 'error', role: 'alert', 'data-testid': testid }, err.message || String(err));
}

/* Runs fn over items, at most n at a time. */
async function pool(items, n, fn) {
  const queue = items.slice();
  const worker = async () => { while (queue.length) await fn(queue.shift()); };
  await Promise.all(Array.from({ length: Math.min(n, queue.length) }, worker));
}

// ---- the API ------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

const noFilters = () => ({ env: '', app: '', driver: '', unused: false });
const state = { session: null, csrf: null, tenant: '', tenants: [], flash: null, volFilters: noFilters() };

async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: 'same-origin' };
  if (body !== undefined) {
    opts.body = JSON.stringify(body);
    opts.headers['Content-Type'] = 'application/json';
  }
  if (method !== 'GET' && state.csrf) opts.headers['X-CSRF-Token'] = state.csrf;
  let resp;
  try { resp = await fetch(path, opts); } catch (e) {
    throw new ApiError(0, 'network', 'Cannot reach volmand: ' + e.message);
  }
  if (resp.status === 204) return null;
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { /* not JSON: said below */ }
  if (!resp.ok) {
    const e = data && data.error;
    const err = new ApiError(resp.status, e ? e.code : 'http',
      e && e.message ? e.message : `${method} ${path} answered HTTP ${resp.status}`);
    if (resp.status === 401 && path !== '/v1/session') sessionEnded(err.message);
    throw err;
  }
  return data;
}

/* The volume drivers volmand has (GET /v1/drivers), asked once; local and tmpfs if it cannot say. */
let driversAsked = null;
function driverNames() {
  driversAsked ??= api('GET', '/v1/drivers').then((r) => r.drivers.map((d) => d.name), () => null);
  return driversAsked.then((names) => names || ['local', 'tmpfs']);
}
/* Fills a driver select: the first option kept ('any' or 'inherit'), then each driver. */
async function fillDrivers(sel, current) {
  let names = await driverNames();
  if (current && !names.includes(current)) names = [...names, current];
  fill(sel, sel.options[0], names.map((n) => h('option', { value: n, selected: n === current }, n)));
  sel.value = current || '';
}

const appPath = (t, e, a) => `/v1/tenants/${enc(t)}/envs/${enc(e)}/apps/${enc(a)}`;
const appHash = (t, e, a) => `#/apps/${enc(t)}/${enc(e)}/${enc(a)}`;
/* The tenant the pages show: a tenant's own; for an admin, the one picked ('' = all). */
const viewTenant = () => (state.session.admin ? state.tenant : state.session.tenant);

// ---- session: login, logout, the header ---------------------------------

let renderSeq = 0;
const current = (seq) => seq === renderSeq;

function setMain(...kids) {
  const main = $('#main');
  return fill(main, ...kids);
}

function showLogin(message, kind = 'error') {
  renderSeq++;
  state.session = null;
  state.csrf = null;
  state.tenant = '';
  state.volFilters = noFilters();
  if ($('#confirm').open) $('#confirm').close();
  $('#topbar').hidden = true;
  document.title = 'Log in · volman';
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off',
    required: true, spellcheck: 'false', 'data-testid': 'token-input', 'aria-describedby': 'token-hint' });
  const msg = h('p', { id: 'login-message', class: kind, role: kind === 'error' ? 'alert' : 'status',
    'data-testid': 'login-message', hidden: !message }, message || '');
  const button = h('button', { type: 'submit', 'data-testid': 'login-submit' }, 'Log in');
  const form = h('form', { class: 'card login', 'data-testid': 'login-form' },
    h('h1', { tabindex: '-1' }, 'Log in to volman'),
    h('label', { for: 'token' }, 'Access token'), input,
    h('p', { id: 'token-hint', class: 'hint' }, 'An admin makes one with ', h('code', {}, 'volman token create'), '.'),
    msg, button);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    msg.hidden = true;
    try {
      const s = await api('POST', '/v1/session', { token: input.value.trim() });
      if (!/^#\/(apps|volumes)/.test(location.hash)) history.replaceState(null, '', '#/apps');
      startSession(s);
    } catch (err) {
      msg.className = 'error';
      msg.setAttribute('role', 'alert');
      msg.textContent = err.message;
      msg.hidden = false;
      button.disabled = false;
      input.focus();
      input.select();
    }
  });
  setMain(form);
  input.focus();
}

function sessionEnded(message) {
  if (state.session) showLogin('Your session has ended: ' + message);
}

function startSession(s) {
  state.session = s;
  state.csrf = s.csrf || null;
  $('#topbar').hidden = false;
  const who = $('#who');
  who.textContent = s.admin ? 'Admin' : `Tenant ${s.tenant}`;
  who.title = s.who || '';
  $('#tenant-pick').hidden = !s.admin;
  if (s.admin) refreshTenants();
  route();
}

/* An admin's tenant list: the tenants of apps and of scoped volumes. */
async function refreshTenants() {
  if (!state.session || !state.session.admin) return;
  const found = new Set(state.tenant ? [state.tenant] : []);
  try {
    const [apps, vols] = await Promise.all([api('GET', '/v1/apps'), api('GET', '/v1/volumes')]);
    for (const a of apps.apps) found.add(a.tenant);
    for (const v of vols.volumes) if (v.scope) found.add(v.scope.tenant);
  } catch (e) { return; /* the page shows its own errors */ }
  state.tenants = [...found].sort();
  const sel = $('#tenant-select');
  fill(sel, h('option', { value: '' }, 'All tenants'),
    state.tenants.map((t) => h('option', { value: t, selected: t === state.tenant }, t)));
  sel.value = state.tenant;
}

async function logout() {
  try { await api('DELETE', '/v1/session'); } catch (e) { /* gone already: logged out all the same */ }
  history.replaceState(null, '', '#/apps');
  showLogin('You are logged out.', 'info');
}

// ---- router -------------------------------------------------------------

function route() {
  if (!state.session) return showLogin();
  const seq = ++renderSeq;
  let parts;
  try {
    parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  } catch (e) { parts = []; }
  const page = parts[0] === 'volumes' ? 'volumes' : 'apps';
  for (const a of document.querySelectorAll('#topbar nav a')) {
    if (a.getAttribute('href') === '#/' + page) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (page === 'volumes') return viewVolumes(seq);
  if (parts.length >= 4) return viewApp(seq, parts[1], parts[2], parts[3], parts[4] === 'new');
  return viewApps(seq);
}

/* A page's frame: its heading (focused, so a screen reader hears where it is) and a flash message. */
function pageFrame(title, ...extra) {
  document.title = title + ' · volman';
  const h1 = h('h1', { tabindex: '-1' }, title);
  const main = setMain(h1, ...extra);
  if (state.flash) {
    main.append(h('p', { class: 'info', role: 'status', 'data-testid': 'flash' }, state.flash));
    state.flash = null;
  }
  h1.focus();
  return main;
}

// ---- dialogs ------------------------------------------------------------

/* Opens the confirmation dialog; action() runs on confirm and its error is shown in the
 * dialog. Resolves with action()'s result, or null when cancelled. */
function confirmDialog({ title, body, ok = 'Confirm', action }) {
  const dlg = $('#confirm'), okBtn = $('#confirm-ok'), cancelBtn = $('#confirm-cancel'), errEl = $('#confirm-error');
  const opener = document.activeElement;
  $('#confirm-title').textContent = title;
  fill($('#confirm-body'), body);
  errEl.hidden = true;
  okBtn.hidden = !action;
  okBtn.disabled = false;
  okBtn.textContent = ok;
  cancelBtn.textContent = action ? 'Cancel' : 'Close';
  let busy = false;
  return new Promise((resolve) => {
    let result = null;
    dlg.oncancel = (ev) => { if (busy) ev.preventDefault(); };
    dlg.onclose = () => {
      dlg.onclose = null;
      okBtn.onclick = null;
      if (opener && opener.isConnected) opener.focus();
      resolve(result);
    };
    okBtn.onclick = async (ev) => {
      ev.preventDefault();
      busy = true;
      okBtn.disabled = cancelBtn.disabled = true;
      errEl.hidden = true;
      try {
        result = (await action()) ?? true;
        busy = false;
        okBtn.disabled = cancelBtn.disabled = false;
        dlg.close();
      } catch (err) {
        busy = false;
        okBtn.disabled = cancelBtn.disabled = false;
        errEl.textContent = err.message;
        errEl.hidden = false;
        okBtn.focus();
      }
    };
    dlg.showModal();
    cancelBtn.focus();
  });
}

// ---- apps page ----------------------------------------------------------

async function viewApps(seq) {
  const main = pageFrame('Apps');
  const t = viewTenant();
  const loading = h('p', { class: 'muted' }, 'Loading apps…');
  main.append(loading);
  if (state.session.admin) refreshTenants();
  let apps;
  try {
    apps = (await api('GET', '/v1/apps' + (t ? '?tenant=' + enc(t) : ''))).apps;
  } catch (err) {
    if (current(seq)) loading.replaceWith(errorBox(err));
    return;
  }
  if (!current(seq)) return;
  loading.remove();
  const list = h('div', { 'data-testid': 'apps-list' });
  main.append(list, newAppForm());
  if (!apps.length) {
    list.append(h('p', { 'data-testid': 'no-apps' }, t ? `No apps for tenant ${t} yet.` : 'No apps yet.'));
    return;
  }
  apps.sort((x, y) => (x.tenant + '/' + x.env + '/' + x.app).localeCompare(y.tenant + '/' + y.env + '/' + y.app));
  const groups = new Map();
  for (const a of apps) {
    const key = t ? `Env ${a.env}` : `Tenant ${a.tenant} · env ${a.env}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(a);
  }
  const pending = [];
  for (const [key, items] of groups) {
    const rows = items.map((a) => {
      const d = deployOf(a.deployed);
      const containers = h('td', { 'data-testid': 'app-containers' }, a.deployed ? '…' : '—');
      if (a.deployed) pending.push([a, containers]);
      return h('tr', { 'data-testid': 'app-row', 'data-app': `${a.tenant}/${a.env}/${a.app}` },
        h('th', { scope: 'row' }, h('a', { href: appHash(a.tenant, a.env, a.app), 'data-testid': 'app-link' }, a.app)),
        h('td', { 'data-testid': 'app-generation' }, d ? `generation ${d.generation}` : 'not deployed'),
        containers,
        h('td', {}, d ? fmtTime(d.at) : '—'),
        h('td', { class: 'wrap' }, d ? d.image : (a.config ? 'configured' : '—')));
    });
    list.append(h('section', { class: 'group', 'data-testid': 'app-group' },
      h('h2', {}, key),
      h('div', { class: 'table-wrap' }, h('table', {},
        h('thead', {}, h('tr', {}, ['App', 'Deployed', 'Containers', 'Last deploy', 'Image'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, rows)))));
  }
  // Each deployed app's containers, a few at a time, once the table is up.
  pool(pending, 4, async ([a, cell]) => {
    try {
      const info = await api('GET', appPath(a.tenant, a.env, a.app));
      cell.textContent = containerSummary(info);
    } catch (err) {
      cell.textContent = 'unknown';
      cell.title = err.message;
    }
  });
}

function containerSummary(info) {
  if (!info.engine) return 'no engine';
  if (info.engine_error) return 'engine not answering';
  const cs = info.containers || [];
  const running = cs.filter((c) => c.state === 'running').length;
  if (!cs.length) return 'none';
  return `${running} running` + (cs.length > running ? `, ${cs.length - running} not running` : '');
}

function newAppForm() {
  const admin = state.session.admin;
  const field = (id, label, value, readonly) => [
    h('label', { for: id }, label),
    h('input', { id, name: id, type: 'text', value: value || '', required: true, readonly, maxlength: '63',
      autocomplete: 'off', spellcheck: 'false', 'data-testid': id, list: id === 'new-tenant' && admin ? 'tenant-list' : null }),
  ];
  const err = h('p', { class: 'error', role: 'alert', 'data-testid': 'new-app-error', hidden: true });
  const form = h('form', { class: 'card inline-form', 'data-testid': 'new-app-form', 'aria-labelledby': 'new-app-title' },
    h('h2', { id: 'new-app-title' }, 'New app'),
    h('div', { class: 'fields' },
      h('div', {}, field('new-tenant', 'Tenant', admin ? state.tenant : state.session.tenant, !admin)),
      h('div', {}, field('new-env', 'Env', '')),
      h('div', {}, field('new-app', 'App', ''))),
    admin ? h('datalist', { id: 'tenant-list' }, state.tenants.map((t) => h('option', { value: t }))) : null,
    h('p', { class: 'hint' }, 'Names are DNS labels: lowercase letters, digits and "-". Add writeable paths and save on the next page to create it.'),
    err,
    h('button', { type: 'submit', 'data-testid': 'new-app-submit' }, 'Create app'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = (id) => $('#' + id, form).value.trim();
    const bad = ['new-tenant', 'new-env', 'new-app'].find((id) => !DNS_LABEL.test(v(id)));
    if (bad) {
      err.textContent = `${$('label[for="' + bad + '"]', form).textContent} "${v(bad)}" is not a DNS label: use lowercase letters, digits and "-" (not first or last), at most 63.`;
      err.hidden = false;
      $('#' + bad, form).focus();
      return;
    }
    location.hash = appHash(v('new-tenant'), v('new-env'), v('new-app')) + '/new';
  });
  return form;
}

// ---- app page -----------------------------------------------------------

/* The app layer's fields other than the paths: '' in the form means "inherit". */
const FIELDS = [
  { key: 'volumeDriver', label: 'Volume driver', options: ['local', 'tmpfs'] },
  { key: 'volumeSize', label: 'Volume size limit', hint: 'e.g. 512m; needs the tmpfs driver' },
  { key: 'tmpSize', label: '/tmp size', hint: 'e.g. 256m' },
  { key: 'memory', label: 'Memory limit', hint: 'e.g. 1g' },
  { key: 'pidsLimit', label: 'Process limit', hint: 'a number', int: true },
  { key: 'networkMode', label: 'Network mode', hint: 'none, bridge, a network name' },
  { key: 'capAdd', label: 'Capabilities kept', hint: 'names, separated by commas', list: true },
  { key: 'readOnlyRootfs', label: 'Read-only root filesystem', options: ['true'], bool: true },
];
const EFFECTIVE_ORDER = ['writeableVolumes', 'readOnlyRootfs', 'tmpSize', 'volumeDriver', 'volumeSize',
  'networkMode', 'capAdd', 'pidsLimit', 'memory'];

async function viewApp(seq, t, e, a, isNew) {
  const where = h('p', { class: 'crumbs' }, h('a', { href: '#/apps' }, 'Apps'), ` / tenant ${t} / env ${e}`);
  const main = pageFrame(`App ${a}`, where);
  let info = null;
  try {
    info = await api('GET', appPath(t, e, a));
  } catch (err) {
    if (!current(seq)) return;
    if (err.status !== 404 || !isNew) {
      main.append(h('section', { class: 'card', 'data-testid': err.status === 404 ? 'not-found' : 'app-error' },
        h('h2', {}, err.status === 404 ? 'App not found' : 'Cannot show this app'),
        errorBox(err), h('p', {}, h('a', { href: '#/apps' }, 'Back to the apps'))));
      return;
    }
  }
  if (!current(seq)) return;
  if (!info) info = { tenant: t, env: e, app: a, config: {}, deployed: null, engine: true, containers: [], volumes: [] };
  const ctx = { t, e, a, seq, isNew: isNew && !info.deployed && !Object.keys(info.config || {}).length };
  const status = h('section', { class: 'card', 'data-testid': 'app-status', 'aria-labelledby': 'status-title' });
  ctx.refresh = async () => {
    try {
      const fresh = await api('GET', appPath(t, e, a));
      if (current(seq)) renderStatus(status, fresh, ctx);
    } catch (err) {
      if (current(seq)) status.append(errorBox(err));
    }
  };
  renderStatus(status, info, ctx);
  main.append(status, configEditor(ctx, info.config || {}), deployForm(ctx, info), deleteSection(ctx));
}

function renderStatus(section, info, ctx) {
  const d = deployOf(info.deployed);
  const rows = [
    ['Deployed', d ? `generation ${d.generation}` : (ctx.isNew ? 'not saved yet' : 'not deployed'), 'status-generation'],
  ];
  if (d) {
    rows.push(['Image', d.image], ['Strategy', d.strategy], ['Deployed at', fmtTime(d.at)],
      ['Container', d.containerName || '—']);
  }
  if (!info.engine) rows.push(['Engine', 'volmand has no container engine: deploys are not possible', 'status-engine']);
  else if (info.engine_error) rows.push(['Engine', 'the container engine did not answer: containers unknown', 'status-engine']);
  const cs = info.containers || [];
  const vols = info.volumes || [];
  fill(section,
    h('h2', { id: 'status-title' }, 'State'),
    ctx.isNew ? h('p', { class: 'info', 'data-testid': 'new-app-note' },
      'This app does not exist yet: add its writeable paths below and save to create it.') : null,
    h('dl', { class: 'facts' }, rows.map(([k, v, tid]) => [h('dt', {}, k), h('dd', { 'data-testid': tid || null }, v)])),
    info.resolve_error ? h('p', { class: 'error', 'data-testid': 'resolve-error' }, 'The saved configuration does not resolve: ' + info.resolve_error) : null,
    h('h3', {}, 'Containers'),
    cs.length ? h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'State'))),
      h('tbody', {}, cs.map((c) => h('tr', { 'data-testid': 'container-row' },
        h('td', { class: 'wrap' }, c.name), h('td', { 'data-testid': 'container-state' }, c.state))))))
      : h('p', { class: 'muted', 'data-testid': 'no-containers' }, info.engine_error ? 'Unknown: the engine did not answer.' : 'No containers.'),
    h('h3', {}, 'Volumes'),
    vols.length ? h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, ['Path', 'Volume', 'State'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, vols.map((v) => h('tr', { 'data-testid': 'app-volume-row' },
        h('td', { class: 'wrap' }, v.path), h('td', { class: 'wrap' }, h('code', {}, v.name)),
        h('td', {}, !v.exists ? 'made at the next deploy' : v.in_use ? 'in use' : 'unused'))))))
      : h('p', { class: 'muted' }, 'No writeable volumes.'));
}

/* The configuration form: writeable paths (each with the volume name it resolves to),
 * the other fields, the effective config; checked against the API as you type. */
function configEditor(ctx, layer) {
  const { t, e, a } = ctx;
  let saved = layer;
  let pathsTouched = 'writeableVolumes' in layer;
  const names = new Map(); // path -> volume name, from every successful check (names depend on the path alone)
  const form = h('form', { class: 'card', 'data-testid': 'config-form', 'aria-labelledby': 'config-title', novalidate: true });
  const pathList = h('ul', { class: 'paths', 'data-testid': 'path-list' });
  const pathsError = h('p', { class: 'error', role: 'alert', 'data-testid': 'paths-error', hidden: true });
  const formError = h('p', { class: 'error', role: 'alert', 'data-testid': 'config-error', hidden: true });
  const status = h('p', { class: 'muted', role: 'status', 'data-testid': 'save-status' });
  const effective = h('div', { class: 'table-wrap', 'data-testid': 'effective' });
  const inputs = {};

  const pathRows = () => [...pathList.children];
  function addPath(value, focus) {
    const id = newId('path');
    const input = h('input', { id, type: 'text', value, autocomplete: 'off', spellcheck: 'false',
      placeholder: '/var/lib/app', 'data-testid': 'path-input', 'aria-describedby': id + '-err ' + id + '-vol' });
    const vol = h('output', { id: id + '-vol', for: id, class: 'volname', 'data-testid': 'path-volume' });
    const err = h('p', { id: id + '-err', class: 'error', role: 'alert', 'data-testid': 'path-error', hidden: true });
    const label = h('label', { for: id, class: 'path-label' });
    const remove = h('button', { type: 'button', class: 'small', 'data-testid': 'remove-path' }, 'Remove');
    const li = h('li', { 'data-testid': 'path-row' }, label, h('div', { class: 'path-line' }, input, remove), vol, err);
    li.parts = { input, vol, err, label, remove };
    input.addEventListener('input', () => { pathsTouched = true; changed(); });
    remove.addEventListener('click', () => {
      const rows = pathRows(), i = rows.indexOf(li);
      li.remove();
      pathsTouched = true;
      const next = pathRows()[Math.min(i, pathRows().length - 1)];
      (next ? next.parts.remove : addBtn).focus();
      changed();
    });
    pathList.append(li);
    numberPaths();
    if (focus) input.focus();
  }
  function numberPaths() {
    pathRows().forEach((li, i) => {
      li.parts.label.textContent = `Path ${i + 1}`;
      li.parts.remove.setAttribute('aria-label', `Remove path ${i + 1}`);
    });
  }
  const addBtn = h('button', { type: 'button', 'data-testid': 'add-path' }, 'Add path');
  addBtn.addEventListener('click', () => { pathsTouched = true; addPath('', true); });

  /* The layer the form holds now: blank path rows and '' fields are left out (they inherit). */
  function candidate() {
    const out = {};
    for (const [k, v] of Object.entries(layer)) { // fields this form does not show are kept as they are
      if (k !== 'writeableVolumes' && !FIELDS.some((f) => f.key === k)) out[k] = v;
    }
    if (pathsTouched) out.writeableVolumes = pathRows().map((li) => li.parts.input.value.trim()).filter(Boolean);
    for (const f of FIELDS) {
      const v = inputs[f.key].value.trim();
      if (!v) continue;
      if (f.list) out[f.key] = v.split(/[\s,]+/).filter(Boolean);
      else if (f.bool) out[f.key] = v === 'true';
      else if (f.int) out[f.key] = /^\d+$/.test(v) ? Number(v) : v;
      else out[f.key] = v;
    }
    return out;
  }
  const same = (x, y) => JSON.stringify(x, Object.keys(x).sort()) === JSON.stringify(y, Object.keys(y).sort());

  function clearErrors() {
    for (const el of form.querySelectorAll('.error')) { el.hidden = true; el.textContent = ''; }
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  }
  /* Puts the API's message next to what it names: a path, a field, else the form. */
  function showError(err) {
    clearErrors();
    const msg = err.message;
    let best = null;
    for (const li of pathRows()) {
      const v = li.parts.input.value.trim();
      if (v && msg.includes(v) && (!best || v.length > best.parts.input.value.trim().length)) best = li;
    }
    let target = best ? best.parts.err : null, field = best ? best.parts.input : null;
    if (!target) {
      const f = FIELDS.find((x) => msg.includes(x.key));
      if (f) { target = $('#cfg-' + f.key + '-err', form); field = inputs[f.key]; }
      else if (msg.includes('writeableVolumes') || /path/i.test(msg)) target = pathsError;
      else target = formError;
    }
    target.textContent = msg;
    target.hidden = false;
    const folded = target.closest('details');
    if (folded) folded.open = true;
    if (field) field.setAttribute('aria-invalid', 'true');
  }
  function renderNames() {
    for (const li of pathRows()) {
      const v = li.parts.input.value.trim();
      li.parts.vol.textContent = !v ? '' : names.has(v) ? '→ volume ' + names.get(v) : '→ checking…';
    }
  }
  function renderEffective(r) {
    const fmt = (k, v) => {
      if (v == null) return k === 'networkMode' ? "the engine's default" : 'none';
      if (Array.isArray(v)) return v.length ? v.join(', ') : 'none';
      return String(v);
    };
    const src = r.sources || {};
    effective.replaceChildren(h('table', {},
      h('caption', {}, 'Effective configuration' + (same(candidate(), saved) ? '' : ' (as if saved)')),
      h('thead', {}, h('tr', {}, ['Field', 'Value', 'From'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, EFFECTIVE_ORDER.filter((k) => k in r.config).map((k) => h('tr', { 'data-testid': 'effective-row', 'data-field': k },
        h('th', { scope: 'row' }, k), h('td', { class: 'wrap', 'data-testid': 'effective-value' }, fmt(k, r.config[k])),
        h('td', { 'data-testid': 'effective-source' }, h('span', { class: 'layer layer-' + (src[k] || 'unknown') }, src[k] || '—')))))));
  }

  let timer = null, checkSeq = 0;
  function changed() {
    numberPaths();
    renderNames();
    status.textContent = same(candidate(), saved) ? '' : 'Unsaved changes.';
    clearTimeout(timer);
    timer = setTimeout(check, 250);
  }
  async function check() {
    const mine = ++checkSeq;
    try {
      const r = await api('POST', appPath(t, e, a) + '/config/check', candidate());
      if (mine !== checkSeq || !current(ctx.seq)) return;
      for (const v of r.volumes || []) names.set(v.path, v.name);
      clearErrors();
      renderNames();
      renderEffective(r);
      effective.classList.remove('stale');
    } catch (err) {
      if (mine !== checkSeq || !current(ctx.seq)) return;
      renderNames();
      for (const li of pathRows()) if (!names.has(li.parts.input.value.trim())) li.parts.vol.textContent = '';
      showError(err);
      effective.classList.add('stale');
      const cap = $('caption', effective);
      if (cap) cap.textContent = 'Effective configuration (of the last valid candidate: fix the error above)';
    }
  }

  const save = h('button', { type: 'submit', class: 'primary', 'data-testid': 'save-config' }, 'Save configuration');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearTimeout(timer);
    checkSeq++; // a check still under way must not paint over what saving says
    save.disabled = true;
    status.textContent = 'Saving…';
    try {
      saved = await api('PUT', appPath(t, e, a) + '/config', candidate());
      if (!current(ctx.seq)) return;
      if (ctx.isNew) {
        state.flash = `Saved: app ${a} exists now.`;
        location.replace(appHash(t, e, a));
        return;
      }
      status.textContent = 'Saved.';
      clearErrors();
      check();
      ctx.refresh();
    } catch (err) {
      if (!current(ctx.seq)) return;
      status.textContent = 'Not saved.';
      showError(err);
    } finally {
      save.disabled = false;
    }
  });

  const fieldRows = FIELDS.map((f) => {
    const id = 'cfg-' + f.key;
    const cur = layer[f.key];
    const value = cur == null ? '' : Array.isArray(cur) ? cur.join(', ') : String(cur);
    const input = f.options
      ? h('select', { id, 'data-testid': id }, h('option', { value: '' }, 'inherit'),
        f.options.map((o) => h('option', { value: o, selected: o === value }, o)))
      : h('input', { id, type: 'text', value, autocomplete: 'off', spellcheck: 'false', placeholder: 'inherit',
        'data-testid': id, 'aria-describedby': id + '-hint ' + id + '-err' });
    input.addEventListener(f.options ? 'change' : 'input', changed);
    if (f.key === 'volumeDriver') fillDrivers(input, value);
    inputs[f.key] = input;
    return h('div', { class: 'field' }, h('label', { for: id }, f.label), input,
      f.hint ? h('p', { id: id + '-hint', class: 'hint' }, f.hint) : null,
      h('p', { id: id + '-err', class: 'error', role: 'alert', hidden: true }));
  });

  form.append(
    h('h2', { id: 'config-title' }, 'Configuration'),
    h('fieldset', {}, h('legend', {}, 'Writeable paths'),
      h('p', { class: 'hint' }, 'Each path gets its own volume, kept across deploys; the name is shown before you save. Checked as you type.'),
      pathList, pathsError, addBtn),
    h('details', { class: 'more' }, h('summary', {}, 'Other settings (empty inherits from the env or global layer)'),
      h('div', { class: 'grid' }, fieldRows)),
    formError,
    h('div', { class: 'actions' }, save, status),
    effective);
  for (const p of layer.writeableVolumes || []) addPath(p, false);
  check();
  return form;
}

function deployForm(ctx, info) {
  const { t, e, a } = ctx;
  const d = deployOf(info.deployed);
  const image = h('input', { id: 'deploy-image', type: 'text', required: true, value: d ? d.image : '',
    autocomplete: 'off', spellcheck: 'false', placeholder: 'registry/app:1.0', 'data-testid': 'deploy-image' });
  const cmd = h('input', { id: 'deploy-cmd', type: 'text', autocomplete: 'off', spellcheck: 'false',
    'aria-describedby': 'deploy-cmd-hint', 'data-testid': 'deploy-cmd' });
  const strategy = h('select', { id: 'deploy-strategy', 'data-testid': 'deploy-strategy' },
    h('option', { value: 'recreate' }, 'recreate (stop the old container first)'),
    h('option', { value: 'blue-green', selected: d && d.strategy === 'blue-green' }, 'blue-green (start the new one first)'));
  const status = h('p', { role: 'status', 'data-testid': 'deploy-status' });
  const button = h('button', { type: 'submit', class: 'primary', 'data-testid': 'deploy-submit' }, 'Deploy');
  const form = h('form', { class: 'card', 'data-testid': 'deploy-form', 'aria-labelledby': 'deploy-title' },
    h('h2', { id: 'deploy-title' }, 'Deploy'),
    h('p', { class: 'hint' }, 'Deploys the saved configuration.'),
    h('div', { class: 'grid' },
      h('div', { class: 'field' }, h('label', { for: 'deploy-image' }, 'Image'), image),
      h('div', { class: 'field' }, h('label', { for: 'deploy-cmd' }, 'Command (optional)'), cmd,
        h('p', { id: 'deploy-cmd-hint', class: 'hint' }, "Arguments separated by spaces, quoted with ' or \" (sh -c 'sleep 3600'), or a JSON array.")),
      h('div', { class: 'field' }, h('label', { for: 'deploy-strategy' }, 'Strategy'), strategy)),
    h('div', { class: 'actions' }, button, status));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    status.className = '';
    const body = { image: image.value.trim(), strategy: strategy.value };
    try {
      if (!body.image) throw new Error('Give the image to deploy.');
      const c = parseCommand(cmd.value);
      if (c) body.cmd = c;
    } catch (err) {
      status.className = 'error';
      status.textContent = err.message;
      return;
    }
    button.disabled = true;
    status.textContent = 'Deploying…';
    try {
      const r = await api('POST', appPath(t, e, a) + '/deploy', body);
      status.textContent = `Deployed generation ${r.generation}: container ${r.container.name}.`;
      ctx.refresh();
    } catch (err) {
      status.className = 'error';
      status.textContent = err.message;
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function deleteSection(ctx) {
  const { t, e, a } = ctx;
  const button = h('button', { type: 'button', class: 'danger', 'data-testid': 'delete-app' }, 'Delete app…');
  const err = h('p', { class: 'error', role: 'alert', hidden: true });
  button.addEventListener('click', async () => {
    err.hidden = true;
    let vols;
    try {
      const q = ['tenant=' + t, 'env=' + e, 'app=' + a].map((f) => 'filter=' + enc(f)).join('&');
      vols = (await api('GET', '/v1/volumes?' + q)).volumes;
    } catch (x) {
      err.textContent = x.message;
      err.hidden = false;
      return;
    }
    const r = await confirmDialog({
      title: `Delete app ${a}?`,
      body: [
        h('p', {}, `Tenant ${t}, env ${e}: its containers are removed, and its configuration.`),
        vols.length
          ? [h('p', {}, `These ${plural(vols.length, 'volume')} and all their data go too:`),
            h('ul', { 'data-testid': 'delete-volume-list' }, vols.map((v) => h('li', {}, h('code', {}, v.name))))]
          : h('p', { 'data-testid': 'delete-no-volumes' }, 'It has no volumes.'),
      ],
      ok: 'Delete app',
      action: () => api('DELETE', appPath(t, e, a)),
    });
    if (!r || !r.removed) return;
    const rm = r.removed;
    state.flash = `Deleted app ${a} (tenant ${t}, env ${e}): ${plural(rm.containers, 'container')}, ${plural(rm.volumes, 'volume')} removed.`;
    location.hash = '#/apps';
  });
  return h('section', { class: 'card danger-zone', 'aria-labelledby': 'delete-title' },
    h('h2', { id: 'delete-title' }, 'Delete'),
    h('p', {}, 'Removes the app’s containers, its volumes with all their data, and its configuration.'),
    button, err);
}

// ---- volumes page -------------------------------------------------------

const VOL_PAGE = 50;

async function viewVolumes(seq) {
  const main = pageFrame('Volumes');
  const f = state.volFilters;
  const t = viewTenant();
  if (state.session.admin) refreshTenants();
  const status = h('p', { role: 'status', 'data-testid': 'volumes-status' });
  const envList = h('datalist', { id: 'env-list' }), appList = h('datalist', { id: 'app-list' });
  const text = (id, label, value, list) => h('div', { class: 'field' }, h('label', { for: id }, label),
    h('input', { id, type: 'text', value, list, autocomplete: 'off', spellcheck: 'false', placeholder: 'any', 'data-testid': id }));
  const form = h('form', { class: 'filters', 'data-testid': 'volume-filters', 'aria-label': 'Filters' },
    text('f-env', 'Env', f.env, 'env-list'), text('f-app', 'App', f.app, 'app-list'),
    h('div', { class: 'field' }, h('label', { for: 'f-driver' }, 'Driver'),
      h('select', { id: 'f-driver', 'data-testid': 'f-driver' }, [['', 'any'], ['local', 'local'], ['tmpfs', 'tmpfs']]
        .map(([v, l]) => h('option', { value: v, selected: v === f.driver }, l)))),
    h('div', { class: 'field check' }, h('input', { id: 'f-unused', type: 'checkbox', checked: f.unused, 'data-testid': 'f-unused' }),
      h('label', { for: 'f-unused' }, 'Unused only')),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', 'data-testid': 'apply-filters' }, 'Apply filters'),
      h('button', { type: 'button', class: 'danger', 'data-testid': 'prune', onclick: () => prune(seq, reload) }, 'Prune unused…')),
    envList, appList);
  const tbody = h('tbody', {});
  const more = h('button', { type: 'button', 'data-testid': 'more-volumes', hidden: true }, 'Show more');
  const table = h('div', { class: 'table-wrap' }, h('table', { class: 'volumes', 'data-testid': 'volumes-table' },
    h('caption', { class: 'sr-only' }, 'Volumes'),
    h('thead', {}, h('tr', {}, ['Name', 'App', 'Driver', 'Size limit', 'Usage', 'In use by', 'Created', 'Actions']
      .map((c) => h('th', { scope: 'col' }, c)))),
    tbody));
  main.append(form, status, table, more);
  fillDrivers($('#f-driver', form), f.driver);

  let apps = new Map();
  let next = null;
  async function loadApps() {
    try {
      const list = (await api('GET', '/v1/apps' + (t ? '?tenant=' + enc(t) : ''))).apps;
      apps = new Map(list.map((x) => [`${x.tenant}/${x.env}/${x.app}`, x]));
      envList.replaceChildren(...[...new Set(list.map((x) => x.env))].sort().map((v) => h('option', { value: v })));
      appList.replaceChildren(...[...new Set(list.map((x) => x.app))].sort().map((v) => h('option', { value: v })));
    } catch (err) { /* only names "in use by" less precisely */ }
  }
  /* One page of volumes after `after` (null: from the start). An answer that a newer
   * reload has overtaken (the filters changed meanwhile) is dropped. */
  let loadSeq = 0;
  async function load(after, mine) {
    const q = filters(t, f).map((x) => 'filter=' + enc(x));
    if (f.unused) q.push('filter=dangling=true');
    q.push('limit=' + VOL_PAGE);
    if (after) q.push('after=' + enc(after));
    const r = await api('GET', '/v1/volumes?' + q.join('&'));
    if (!current(seq) || mine !== loadSeq) return false;
    next = r.next;
    more.hidden = !next;
    if (!after) tbody.replaceChildren();
    if (!after && !r.volumes.length) {
      tbody.append(h('tr', {}, h('td', { colspan: '8', 'data-testid': 'no-volumes' }, 'No volumes match.')));
      return true;
    }
    const rows = r.volumes.map((v) => volumeRow(v, apps, seq, reload));
    tbody.append(...rows.map((x) => x.tr));
    pool(rows, 4, (x) => x.loadUsage());
    return true;
  }
  const busy = (on) => table.firstChild.setAttribute('aria-busy', on ? 'true' : 'false');
  async function reload(message) {
    const mine = ++loadSeq;
    busy(true);
    status.className = '';
    status.textContent = message || 'Loading…';
    try {
      await loadApps();
      if (mine !== loadSeq || !(await load(null, mine))) return;
      if (!message) status.textContent = '';
    } catch (err) {
      if (!current(seq) || mine !== loadSeq) return;
      status.className = 'error';
      status.textContent = err.message;
    }
    busy(false);
  }
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    f.env = $('#f-env').value.trim();
    f.app = $('#f-app').value.trim();
    f.driver = $('#f-driver').value;
    f.unused = $('#f-unused').checked;
    reload();
  });
  for (const id of ['#f-driver', '#f-unused']) $(id, form).addEventListener('change', () => form.requestSubmit());
  more.addEventListener('click', async () => {
    more.disabled = true;
    try { await load(next, loadSeq); } catch (err) { status.className = 'error'; status.textContent = err.message; }
    more.disabled = false;
  });
  await reload();
}

/* The filters a list or a prune of the current view takes. */
function filters(t, f) {
  const out = [];
  if (t) out.push('tenant=' + t);
  if (f.env) out.push('env=' + f.env);
  if (f.app) out.push('app=' + f.app);
  if (f.driver) out.push('driver=' + f.driver);
  return out;
}

function inUseBy(v, apps) {
  const mounts = v.mounts || [];
  if (!mounts.length) return null;
  if (v.scope) {
    const app = apps.get(`${v.scope.tenant}/${v.scope.env}/${v.scope.app}`);
    const d = app && deployOf(app.deployed);
    if (d && d.containerName) return `app ${v.scope.app} (container ${d.containerName})`;
  }
  const who = new Map();
  for (const m of mounts) {
    const o = m.owner === 'plugin' ? 'engine' : m.owner || 'unknown';
    who.set(o, (who.get(o) || 0) + 1);
  }
  return [...who].map(([o, n]) => (n > 1 ? `${o} ×${n}` : o)).join(', ');
}

function volumeRow(v, apps, seq, reload) {
  const user = inUseBy(v, apps);
  const usage = h('td', { 'data-label': 'Usage', 'data-testid': 'volume-usage' }, '…');
  const del = h('button', { type: 'button', class: 'small danger', 'data-testid': 'delete-volume',
    'aria-label': `Delete volume ${v.name}`, disabled: !!user, title: user ? 'In use: it cannot be deleted' : null }, 'Delete');
  del.addEventListener('click', async () => {
    const r = await confirmDialog({
      title: `Delete volume ${v.name}?`,
      body: [h('p', {}, 'The volume and all its data are destroyed. This cannot be undone.')],
      ok: 'Delete volume',
      action: () => api('DELETE', '/v1/volumes/' + enc(v.name)),
    });
    if (r && current(seq)) reload(`Deleted volume ${v.name}.`);
  });
  const s = v.scope;
  const tr = h('tr', { 'data-testid': 'volume-row', 'data-name': v.name },
    h('th', { scope: 'row', class: 'wrap' }, h('code', {}, v.name)),
    h('td', { class: 'wrap', 'data-label': 'App' }, s ? [h('a', { href: appHash(s.tenant, s.env, s.app) }, `${s.tenant}/${s.env}/${s.app}`), ' ', h('span', { class: 'muted' }, s.path)] : '—'),
    h('td', { 'data-label': 'Driver' }, v.driver),
    h('td', { 'data-label': 'Size limit' }, (v.options && v.options.size) || 'none'),
    usage,
    h('td', { class: 'wrap', 'data-label': 'In use by', 'data-testid': 'volume-user' }, user || h('span', { class: 'badge', 'data-testid': 'unused-badge' }, 'unused')),
    h('td', { 'data-label': 'Created' }, fmtTime(v.created_at)),
    h('td', {}, del));
  async function loadUsage() {
    try {
      const full = await api('GET', '/v1/volumes/' + enc(v.name) + '?usage=true');
      usage.textContent = full.usage ? fmtBytes(full.usage.bytes) : 'unknown';
      if (full.usage) usage.title = `${full.usage.bytes} bytes, ${full.usage.inodes} inodes`;
    } catch (err) {
      usage.textContent = 'unknown';
      usage.title = err.message;
    }
  }
  return { tr, loadUsage };
}

async function prune(seq, reload) {
  const t = viewTenant();
  const body = { filters: filters(t, state.volFilters) };
  if (!body.filters.length) body.all = true; // an admin's "all tenants" with no filter
  let dry;
  try {
    dry = await api('POST', '/v1/volumes/prune', { ...body, dry_run: true });
  } catch (err) {
    const st = $('[data-testid="volumes-status"]');
    st.className = 'error';
    st.textContent = err.message;
    return;
  }
  const kept = dry.kept || [];
  const r = await confirmDialog({
    title: 'Prune unused volumes?',
    body: [
      h('p', {}, body.all ? 'Every tenant, every unused volume.' : ['Unused volumes matching ',
        body.filters.map((x, i) => [i ? ', ' : '', h('code', {}, x)]), '.']),
      dry.removed.length
        ? [h('p', {}, `These ${plural(dry.removed.length, 'volume')} and all their data would be removed:`),
          h('ul', { 'data-testid': 'prune-list' }, dry.removed.map((n) => h('li', {}, h('code', {}, n))))]
        : h('p', { 'data-testid': 'prune-nothing' }, 'Nothing to remove: no unused volume matches.'),
      kept.length ? [h('p', {}, 'Kept:'), h('ul', { 'data-testid': 'prune-kept' },
        kept.map((k) => h('li', {}, h('code', {}, k.name), ': ' + k.reason)))] : null,
    ],
    ok: `Remove ${plural(dry.removed.length, 'volume')}`,
    action: dry.removed.length ? () => api('POST', '/v1/volumes/prune', { ...body, dry_run: false }) : null,
  });
  if (r && r.removed && current(seq)) {
    reload(`Pruned ${plural(r.removed.length, 'volume')}` + (r.removed.length ? ': ' + r.removed.join(', ') + '.' : '.'));
  }
}

// ---- start --------------------------------------------------------------

async function boot() {
  $('#logout').addEventListener('click', logout);
  $('#tenant-select').addEventListener('change', (ev) => { state.tenant = ev.target.value; route(); });
  window.addEventListener('hashchange', () => { if (state.session) route(); });
  try {
    startSession(await api('GET', '/v1/session'));
  } catch (err) {
    showLogin(err.status === 401 ? null : err.message);
  }
}

boot();
