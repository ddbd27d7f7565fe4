// The dashboard page: listens to /api/events (EventSource), draws the charts with uPlot, keeps the
// live table and the detail view of the selected session, and sends the admin abort.
// Everything from the server is written with textContent, never parsed as HTML.

const POINTS_MAX = 300; // five minutes of one-second snapshots
const $ = (id) => document.getElementById(id);

const state = { selected: null, last: null, token: sessionStorage.getItem('liaison-admin-token') ?? '' };
const series = { time: [], bytesIn: [], bytesOut: [], sessions: [], open: [], away: [] };

function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function bytes(n) {
  if (n == null) return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n >= 100 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

function duration(ms) {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

const WINDOW_S = 60; // the time axis shows at least the last minute

function chart(el, labels, colors, format, extra = {}) {
  const axis = { stroke: css('--muted'), grid: { stroke: css('--line'), width: 1 }, ticks: { stroke: css('--line') } };
  const opts = {
    width: el.clientWidth || 500,
    height: 200,
    cursor: { drag: { x: false, y: false } },
    legend: { live: false },
    scales: {
      x: { time: true, range: (_u, min, max) => [Math.min(min ?? max, max - WINDOW_S), max] },
      y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] },
    },
    axes: [axis, { ...axis, size: 84, values: (_u, ticks) => ticks.map(format), ...extra.y }],
    series: [
      {},
      ...labels.map((label, i) => ({
        label,
        stroke: colors[i],
        width: 2,
        fill: i === 0 ? `${colors[i]}1f` : undefined,
        dash: i === 1 ? [6, 4] : undefined,
        points: { show: false },
      })),
    ],
  };
  const plot = new uPlot(opts, [[], ...labels.map(() => [])], el);
  new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height: 200 })).observe(el);
  return plot;
}

const throughput = chart(
  $('chart-throughput'),
  ['in', 'out'],
  [css('--accent'), css('--accent2')],
  (v) => `${bytes(v)}/s`,
);
const sessionsChart = chart(
  $('chart-sessions'),
  ['all', 'open', 'suspended'],
  [css('--accent'), css('--accent2'), css('--warn')],
  (v) => String(v),
  // Whole sessions only: ticks at 1, 2, 5, 10, ...
  { y: { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5] } },
);

function push(key, value) {
  series[key].push(value);
  if (series[key].length > POINTS_MAX) series[key].shift();
}

function onSnapshot(snap) {
  const prev = state.last;
  state.last = snap;
  const dt = prev ? Math.max(0.001, (snap.time - prev.time) / 1000) : 1;
  const rate = (key) => (prev ? Math.max(0, (snap.totals[key] - prev.totals[key]) / dt) : 0);
  const inRate = rate('bytesIn');
  const outRate = rate('bytesOut');
  const away = (snap.byState.suspended ?? 0) + (snap.byState.resuming ?? 0) + (snap.byState['awaiting-resumed'] ?? 0);
  push('time', snap.time / 1000);
  push('bytesIn', inRate);
  push('bytesOut', outRate);
  push('sessions', snap.sessions);
  push('open', snap.byState.open ?? 0);
  push('away', away);
  throughput.setData([series.time, series.bytesIn, series.bytesOut]);
  sessionsChart.setData([series.time, series.sessions, series.open, series.away]);

  $('t-sessions').textContent = String(snap.sessions);
  $('t-states').textContent = Object.entries(snap.byState)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`)
    .join(' · ');
  $('t-connections').textContent = String(snap.connections);
  $('t-in').textContent = `${bytes(inRate)}/s`;
  $('t-out').textContent = `${bytes(outRate)}/s`;
  $('t-in-total').textContent = `${bytes(snap.totals.bytesIn)} total`;
  $('t-out-total').textContent = `${bytes(snap.totals.bytesOut)} total`;
  $('t-msgs').textContent = String(Math.round(rate('messagesIn') + rate('messagesOut')));
  $('t-resumes').textContent = String(snap.totals.resumes);
  $('t-opened').textContent = `${snap.totals.opened} · ${snap.totals.closed}`;
  renderTable(snap);
  if (state.selected) void loadDetail(state.selected);
}

/** Session ids are long hex: the table shows their start, as git shows commits. */
function shortId(id) {
  return id.startsWith('local-') ? id : id.slice(0, 8);
}

function cell(row, text, cls) {
  const td = document.createElement('td');
  if (cls) td.className = cls;
  td.textContent = text;
  row.appendChild(td);
  return td;
}

function renderTable(snap) {
  const body = document.querySelector('#sessions tbody');
  const rows = snap.table.map((s) => {
    const tr = document.createElement('tr');
    tr.dataset.id = s.id;
    if (s.id === state.selected) tr.className = 'selected';
    cell(tr, shortId(s.id), 'mono').title = s.id;
    const badge = document.createElement('span');
    badge.className = `badge ${s.state}`;
    badge.textContent = s.state;
    cell(tr, '').appendChild(badge);
    cell(tr, s.principal ?? '—');
    cell(tr, s.transport ?? '—', 'mono');
    cell(tr, s.remote ?? '—', 'mono');
    cell(tr, bytes(s.bytesIn), 'num');
    cell(tr, bytes(s.bytesOut), 'num');
    cell(tr, s.rttMs == null ? '—' : `${s.rttMs.toFixed(1)} ms`, 'num');
    cell(tr, String(s.resumes), 'num');
    cell(tr, duration(s.ageMs), 'num');
    return tr;
  });
  body.replaceChildren(...rows);
  $('empty').hidden = rows.length > 0;
  $('table-note').textContent =
    snap.table.length < snap.sessions ? `first ${snap.table.length} of ${snap.sessions}` : `${snap.sessions}`;
}

const FIELDS = [
  ['id', (d) => d.id],
  ['state', (d) => d.state],
  ['link', (d) => d.link],
  ['principal', (d) => d.principal ?? '—'],
  ['expires', (d) => d.principalExpiresAt ?? '—'],
  ['transport', (d) => `${d.transport}${d.noise ? ` + noise ${d.noise}` : ''}`],
  ['remote', (d) => d.remote],
  ['channel', (d) => d.channel],
  ['age', (d) => duration(d.ageMs)],
  ['rtt', (d) => (d.rtt ? `${d.rtt.smoothedMs} ms (±${d.rtt.variationMs})` : '—')],
  ['bytes in / out', (d) => `${bytes(d.bytesIn)} / ${bytes(d.bytesOut)}`],
  ['messages in / out', (d) => `${d.messagesIn} / ${d.messagesOut}`],
  ['buffered', (d) => bytes(d.bufferedBytes)],
  ['resumes', (d) => d.resumes],
  ['retransmitted', (d) => `${d.stats.framesRetransmitted ?? 0} frames`],
  ['sync serial', (d) => d.serial],
  ['activity', (d) => (d.activity ? `${d.activity.id} (serial ${d.activity.serial})` : '—')],
  [
    'tokens',
    (d) =>
      d.tokens
        ? Object.entries(d.tokens)
            .filter(([, owner]) => owner !== 'unavailable')
            .map(([name, owner]) => `${name}: ${owner}`)
            .join(', ') || 'none in use'
        : '—',
  ],
  ['named tokens', (d) => (d.namedTokens.length ? d.namedTokens.join(', ') : '—')],
  ['units', (d) => d.units.join(' ') || '—'],
];

async function loadDetail(id) {
  const res = await fetch(`api/sessions/${encodeURIComponent(id)}`).catch(() => null);
  if (state.selected !== id) return;
  if (!res?.ok) {
    $('d-fields').replaceChildren(term('state', 'ended'));
    return;
  }
  const d = await res.json();
  $('d-id').textContent = shortId(d.id);
  $('d-fields').replaceChildren(...FIELDS.map(([name, get]) => term(name, String(get(d) ?? '—'))));
}

function term(name, value) {
  const frag = document.createDocumentFragment();
  const dt = document.createElement('dt');
  dt.textContent = name;
  const dd = document.createElement('dd');
  dd.textContent = value;
  frag.append(dt, dd);
  return frag;
}

function select(id) {
  state.selected = id;
  $('detail').hidden = id === null;
  document.querySelector('main').classList.toggle('with-detail', id !== null);
  $('abort-result').textContent = '';
  for (const tr of document.querySelectorAll('#sessions tbody tr'))
    tr.classList.toggle('selected', tr.dataset.id === id);
  if (id !== null) void loadDetail(id);
}

document.querySelector('#sessions tbody').addEventListener('click', (e) => {
  const tr = e.target.closest('tr');
  if (tr) select(tr.dataset.id);
});
$('d-close').addEventListener('click', () => select(null));
$('abort-token').value = state.token;

$('abort-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const id = state.selected;
  const token = $('abort-token').value;
  if (!id || !window.confirm(`Abort session ${shortId(id)}? Its client sees the abort at once.`)) return;
  sessionStorage.setItem('liaison-admin-token', token);
  const res = await fetch(`api/sessions/${encodeURIComponent(id)}/abort`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  }).catch(() => null);
  const body = res ? await res.json().catch(() => ({})) : {};
  $('abort-result').textContent = res?.ok
    ? `aborted: ${body.reason}`
    : `not aborted: ${body.error?.message ?? 'the dashboard did not answer'}`;
});

function log(kind, text) {
  const li = document.createElement('li');
  const b = document.createElement('b');
  b.textContent = kind;
  li.append(`${new Date().toLocaleTimeString()} `, b, ` ${text}`);
  const list = $('log');
  list.prepend(li);
  while (list.children.length > 200) list.lastChild.remove();
}

function connect() {
  const events = new EventSource('api/events');
  const live = (on) => {
    $('live-dot').className = `dot ${on ? 'live' : 'down'}`;
    $('live-text').textContent = on ? 'live' : 'reconnecting…';
  };
  events.addEventListener('open', () => live(true));
  events.addEventListener('error', () => live(false));
  events.addEventListener('snapshot', (e) => onSnapshot(JSON.parse(e.data)));
  events.addEventListener('session-open', (e) => {
    const s = JSON.parse(e.data);
    log('open', `${shortId(s.id)} ${s.principal ?? ''} ${s.transport} ${s.remote}`);
  });
  events.addEventListener('session-suspend', (e) => {
    const s = JSON.parse(e.data);
    log('suspend', `${shortId(s.id)}: ${s.reason}`);
  });
  events.addEventListener('session-resume', (e) => {
    const s = JSON.parse(e.data);
    log('resume', `${shortId(s.id)} after ${Math.round(s.downtimeMs ?? 0)} ms (resume ${s.resumes})`);
  });
  events.addEventListener('session-close', (e) => {
    const s = JSON.parse(e.data);
    log('close', `${shortId(s.id)}: ${s.reason}`);
  });
}

connect();
