// The dashboard: polls the publisher's API every 2 s with the session cookie, and draws.
const COLORS = { email: '#1a73e8', sms: '#188038', push: '#e37400' };
const readings = []; // [{t, email, sms, push}] entries read per channel, to derive a rate
let signedIn = false;

async function api(path, options = {}) {
  const res = await fetch(path, {
    ...options,
    credentials: 'same-origin',
    headers: { 'x-herald-dashboard': '1', ...(options.body ? { 'content-type': 'application/json' } : {}) },
  });
  if (res.status === 401) {
    showSignIn();
    throw new Error('signed out');
  }
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return res.status === 204 ? null : res.json();
}

function text(value) {
  const span = document.createElement('span');
  span.textContent = value === undefined || value === null ? '-' : String(value);
  return span;
}

function row(cells) {
  const tr = document.createElement('tr');
  for (const cell of cells) {
    const td = document.createElement('td');
    td.append(cell instanceof Node ? cell : text(cell));
    tr.append(td);
  }
  return tr;
}

function stateCell(channel) {
  const span = text(channel.state + (channel.reason ? ` (${channel.reason})` : ''));
  span.className = `state-${channel.state}`;
  return span;
}

function showSignIn() {
  signedIn = false;
  document.getElementById('signin').hidden = false;
  document.getElementById('app').hidden = true;
  document.getElementById('status').textContent = 'signed out';
}

async function refresh() {
  const [{ groups }, recent, dead, outbox] = await Promise.all([
    api('/v1/groups'),
    api('/v1/notifications?limit=20'),
    api('/v1/dead-letters?limit=20'),
    api('/dashboard/outbox'),
  ]);
  document.getElementById('outbox').hidden = !outbox.available;
  if (outbox.available) {
    const when = (ms) => new Date(ms).toLocaleTimeString();
    const rows = [
      ...outbox.emails.map((m) => ({
        at: m.receivedAt,
        cells: ['email', m.to.join(', '), `${m.subject}: ${m.text}`, when(m.receivedAt)],
      })),
      ...outbox.sms.map((m) => ({ at: m.receivedAt, cells: ['sms', m.to, m.body, when(m.receivedAt)] })),
      ...outbox.pushes.map((m) => ({
        at: m.receivedAt,
        cells: ['push', new URL(m.endpoint).pathname, m.payload, when(m.receivedAt)],
      })),
    ].sort((a, b) => b.at - a.at);
    document.querySelector('#outbox-table tbody').replaceChildren(...rows.slice(0, 30).map((r) => row(r.cells)));
  }
  signedIn = true;
  document.getElementById('signin').hidden = true;
  document.getElementById('app').hidden = false;

  const now = Date.now();
  readings.push({ t: now, ...Object.fromEntries(groups.map((g) => [g.channel, g.entriesRead ?? 0])) });
  while (readings.length && now - readings[0].t > 5 * 60_000) readings.shift();
  const previous = readings.length > 1 ? readings[readings.length - 2] : undefined;

  const groupRows = groups.map((g) => {
    const rate = previous ? ((g.entriesRead ?? 0) - previous[g.channel]) / ((now - previous.t) / 1000) : 0;
    return row([
      g.channel,
      g.consumers.length,
      g.pending,
      g.lag,
      `${Math.round(g.oldestPendingAgeMs / 1000)} s`,
      g.deadLetters,
      Math.max(0, rate).toFixed(1),
    ]);
  });
  document.querySelector('#groups tbody').replaceChildren(...groupRows);
  drawChart();

  document
    .querySelector('#recent tbody')
    .replaceChildren(
      ...recent.notifications.map((n) =>
        row([
          n.id,
          n.type,
          n.userId,
          new Date(n.createdAt).toLocaleTimeString(),
          stateCell(n.channels.email),
          stateCell(n.channels.sms),
          stateCell(n.channels.push),
        ]),
      ),
    );

  document.querySelector('#dead tbody').replaceChildren(
    ...dead.deadLetters.map((d) => {
      const button = document.createElement('button');
      button.textContent = 'Redrive';
      button.addEventListener('click', async () => {
        button.disabled = true;
        await api(`/v1/dead-letters/${encodeURIComponent(d.dlqId)}/redrive`, { method: 'POST' }).catch(() => undefined);
        await refresh().catch(() => undefined);
      });
      return row([d.dlqId, d.channel, d.id, d.reason, d.error, button]);
    }),
  );
  document.getElementById('status').textContent = `updated ${new Date().toLocaleTimeString()}`;
}

function drawChart() {
  const svg = document.getElementById('chart');
  const rates = [];
  for (let i = 1; i < readings.length; i++) {
    const dt = (readings[i].t - readings[i - 1].t) / 1000;
    rates.push({
      t: readings[i].t,
      ...Object.fromEntries(
        Object.keys(COLORS).map((c) => [c, Math.max(0, (readings[i][c] - readings[i - 1][c]) / dt)]),
      ),
    });
  }
  const max = Math.max(1, ...rates.flatMap((r) => Object.keys(COLORS).map((c) => r[c])));
  const start = Date.now() - 5 * 60_000;
  const lines = Object.entries(COLORS).map(([channel, color]) => {
    const points = rates
      .map((r) => `${((r.t - start) / (5 * 60_000)) * 600},${140 - (r[channel] / max) * 130}`)
      .join(' ');
    const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
    line.setAttribute('points', points);
    line.setAttribute('fill', 'none');
    line.setAttribute('stroke', color);
    line.setAttribute('stroke-width', '2');
    return line;
  });
  svg.replaceChildren(...lines);
  document.getElementById('legend').replaceChildren(
    ...Object.entries(COLORS).map(([c, color]) => {
      const span = text(` ${c} `);
      span.style.color = color;
      return span;
    }),
    text(`  (max ${max.toFixed(1)}/s)`),
  );
}

document.getElementById('signin-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const key = document.getElementById('key').value;
  const res = await fetch('/dashboard/session', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key }),
  });
  if (!res.ok) {
    const answer = await res.json().catch(() => ({}));
    document.getElementById('signin-error').textContent = answer.error?.message ?? 'That is not an admin key.';
    return;
  }
  document.getElementById('key').value = '';
  document.getElementById('signin-error').textContent = '';
  await refresh().catch(() => undefined);
});

async function loop() {
  // Ask first, so a signed-out page makes no request that would only be refused.
  const session = await fetch('/dashboard/session', { credentials: 'same-origin' })
    .then((r) => r.json())
    .catch(() => ({ signedIn: false }));
  if (!session.signedIn) {
    showSignIn();
  } else {
    await refresh().catch((err) => {
      if (err.message !== 'signed out')
        document.getElementById('status').textContent = `cannot reach the publisher (${err.message})`;
    });
  }
  setTimeout(loop, signedIn ? 2000 : 5000);
}
loop();
