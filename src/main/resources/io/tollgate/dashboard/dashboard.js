// Tollgate's live dashboard: draws the /dashboard/state document, then follows /dashboard/events (server-sent
// events: "state" with each statistics message, "event" with each tollgate.events message). Plain DOM, no
// library, nothing fetched from elsewhere; every value is set with textContent.
(function () {
  'use strict';
  var MAX_EVENTS = 50;
  var HISTORY = 60;
  /** Tokens/s is measured over this much of the recent past, not between two messages a few seconds apart. */
  var RATE_WINDOW_MS = 15000;
  var history = [];
  var samples = [];

  function $(id) { return document.getElementById(id); }
  function num(n) { return n == null ? '–' : Number(n).toLocaleString('en-US'); }
  function pct(r) { return r == null || isNaN(r) ? '–' : (r * 100).toFixed(1) + ' %'; }
  function set(id, text) { var e = $(id); if (e && e.textContent !== String(text)) e.textContent = text; }
  function bytes(n) {
    if (n == null) return '–';
    var units = ['B', 'KiB', 'MiB', 'GiB'];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
  }
  function bar(id, share, cls) {
    var e = $(id);
    if (!e) return;
    e.style.width = Math.max(0, Math.min(1, share || 0)) * 100 + '%';
    if (cls !== undefined) e.parentNode.className = 'bar' + (cls ? ' ' + cls : '');
  }
  function pill(id, text, kind) {
    var e = $(id);
    e.textContent = text;
    e.className = 'pill' + (kind ? ' ' + kind : '');
  }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text != null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function row(cells) {
    var tr = document.createElement('tr');
    cells.forEach(function (c) {
      if (c instanceof Node) { var td = document.createElement('td'); td.appendChild(c); tr.appendChild(td); }
      else tr.appendChild(el('td', c == null ? '–' : String(c), typeof c === 'number' ? 'num' : null));
    });
    return tr;
  }
  function fill(id, rows) {
    var body = $(id);
    var fresh = document.createDocumentFragment();
    rows.forEach(function (r) { fresh.appendChild(r); });
    body.replaceChildren(fresh);
  }
  function ratio(hits, misses) { return hits + misses === 0 ? null : hits / (hits + misses); }
  function stateKind(s) { return s === 'UP' || s === 'closed' ? 'good' : s === 'DEGRADED' || s === 'half-open' ? 'warn' : 'bad'; }

  function drawCache(stats) {
    var l1 = (stats && stats.l1) || {}, l2 = (stats && stats.l2) || {};
    set('l1-hit-rate', stats ? pct(l1.hitRate) : '–');
    bar('l1-bar', l1.hitRate);
    set('l1-hits', num(l1.hits || 0)); set('l1-misses', num(l1.misses || 0));
    set('l1-size', num(l1.size || 0)); set('l1-weight', bytes(l1.weightBytes || 0)); set('l1-evictions', num(l1.evictions || 0));
    var l2rate = ratio(l2.hits || 0, l2.misses || 0);
    set('l2-hit-rate', pct(l2rate));
    bar('l2-bar', l2rate);
    set('l2-hits', num(l2.hits || 0)); set('l2-misses', num(l2.misses || 0)); set('l2-errors', num(l2.errors || 0));
    set('l2-connected', stats ? (l2.connected ? 'yes' : 'no') : '–');
    set('coalesced', num(stats ? stats.coalesced : 0)); set('stale-served', num(stats ? stats.staleServed : 0));
    if (stats && l1.hitRate != null) {
      history.push(l1.hitRate);
      if (history.length > HISTORY) history.shift();
      var step = 300 / Math.max(1, HISTORY - 1);
      $('hit-line').setAttribute('points', history.map(function (r, i) {
        return (i * step).toFixed(1) + ',' + (38 - r * 36).toFixed(1);
      }).join(' '));
    }
  }

  function drawUpstream(u) {
    set('calls-avoided', num(u.avoided)); set('calls-made', num(u.made));
    bar('avoided-bar', u.avoided + u.made === 0 ? 0 : u.avoided / (u.avoided + u.made));
    set('ru-saved', num(u.ruSaved)); set('ru-spent', num(u.ruSpent));
    set('absorbed', num(u.throttlesAbsorbed)); set('retries', num(u.retries)); set('refused', num(u.refused));
  }

  function drawLimiter(l) {
    set('waits', num(l.waits)); set('wait-time', (l.waitSeconds || 0).toFixed(1) + ' s'); set('waiting', num(l.waiting));
    set('upstream-throttled', num(l.upstreamThrottled)); set('requeued', num(l.requeued));
    set('stale-throttled', num(l.staleWhileThrottled)); set('pauses', num(l.pauses)); set('rejected', num(l.rejected));
    pill('limiter-mode', l.mode, l.mode === 'local-fallback' ? 'warn' : l.mode === 'off' ? '' : 'good');
  }

  function drawBudgets(budgets, at) {
    var now = Date.parse(at);
    var tokens = {};
    budgets.forEach(function (b) { tokens[b.name] = b.tokens; });
    samples.push({ at: now, tokens: tokens });
    while (samples.length > 2 && now - samples[1].at >= RATE_WINDOW_MS) samples.shift();
    var oldest = samples[0];
    var seconds = (now - oldest.at) / 1000;
    var before = oldest.tokens;
    fill('budgets', budgets.map(function (b) {
      var learned = b.learnedMin == null ? 'not yet'
          : (b.learnedMin === b.learnedMax ? b.learnedMin : b.learnedMin + '–' + b.learnedMax) + ' /s'
            + (b.learnedBuckets > 1 ? ' (' + b.learnedBuckets + ' buckets)' : '');
      var perSecond = seconds > 0 && before[b.name] != null ? Math.max(0, b.tokens - before[b.name]) / seconds : null;
      var rate = b.learnedMax != null ? b.learnedMax : b.rate;
      var use = perSecond == null || !rate ? null : perSecond / rate;
      var meter = el('span', null, 'bar' + (use > 0.9 ? ' full' : use > 0.7 ? ' hot' : ''));
      var fillEl = el('span');
      fillEl.style.width = Math.min(1, use || 0) * 100 + '%';
      meter.appendChild(fillEl);
      var cell = el('span');
      cell.appendChild(meter);
      cell.appendChild(document.createTextNode(pct(use)));
      return row([b.name, b.key, b.mode, b.rate + ' /s, burst ' + b.burst, learned, b.tokens,
        perSecond == null ? '–' : perSecond.toFixed(1), cell]);
    }));
  }

  function drawRoutes(routes) {
    fill('routes', routes.map(function (r) {
      var cell = el('span');
      var meter = el('span', null, 'bar');
      var f = el('span');
      f.style.width = (r.hitRate || 0) * 100 + '%';
      meter.appendChild(f);
      cell.appendChild(meter);
      cell.appendChild(document.createTextNode(pct(r.hitRate)));
      return row([r.route, r.requests, r.hitL1, r.hitL2, r.stale, r.revalidated, r.miss, r.bypass, cell]);
    }));
  }

  function drawTenants(stats) {
    var tenants = (stats && stats.tenants) || [];
    fill('tenants', tenants.map(function (t) {
      var reads = t.reads || {}, ru = t.ru || {};
      return row([t.tenant, t.lane, reads.cache, reads.upstream, reads.refused, ru.spent, ru.saved,
        t.throttlesAbsorbed, t.retries, (t.waitMs / 1000).toFixed(1) + ' s']);
    }));
  }

  function drawHealth(s) {
    var ready = s.readiness || {}, parts = ready.components || {};
    pill('ready', ready.status || '?', stateKind(ready.status));
    fill('components', Object.keys(parts).map(function (name) {
      var p = parts[name];
      var status = el('span', p.status, 'pill ' + stateKind(p.status));
      return row([name, status, p.detail || '']);
    }));
    var redis = parts.redis;
    var l2 = s.stats && s.stats.l2;
    if (redis) pill('redis', redis.status === 'UP' ? 'connected' : redis.status.toLowerCase(), stateKind(redis.status));
    else pill('redis', l2 && l2.connected ? 'connected' : 'not used', l2 && l2.connected ? 'good' : '');
    fill('breakers', s.breakers.map(function (b) {
      return row([b.origin, el('span', b.state, 'pill ' + stateKind(b.state))]);
    }));
    var worst = s.breakers.reduce(function (w, b) {
      return b.state === 'open' ? 'open' : w === 'open' ? w : b.state === 'half-open' ? 'half-open' : w;
    }, 'closed');
    pill('breaker', s.breakers.length ? worst : 'none', s.breakers.length ? stateKind(worst) : '');
    set('bulkhead-in-flight', num(s.bulkhead.inFlight)); set('bulkhead-queue', num(s.bulkhead.queue));
    set('bulkhead-shed', num(s.bulkhead.shed));
  }

  function summary(e) {
    var skip = { type: 1, at: 1 };
    return Object.keys(e).filter(function (k) { return !skip[k]; }).map(function (k) {
      var v = e[k];
      return k + '=' + (typeof v === 'object' ? JSON.stringify(v) : v);
    }).join(' ');
  }

  function eventItem(e) {
    var li = el('li');
    li.appendChild(el('time', e.at ? e.at.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : ''));
    li.appendChild(el('span', e.type || '?', 'type ' + (e.type || '')));
    li.appendChild(document.createTextNode(' ' + summary(e)));
    return li;
  }

  function addEvent(e) {
    var list = $('events');
    list.insertBefore(eventItem(e), list.firstChild);
    while (list.children.length > MAX_EVENTS) list.removeChild(list.lastChild);
  }

  function draw(s) {
    drawCache(s.stats);
    drawUpstream(s.upstream);
    drawLimiter(s.limiter);
    drawBudgets(s.budgets, s.at);
    drawRoutes(s.routes);
    drawTenants(s.stats);
    drawHealth(s);
    set('updated', 'updated ' + new Date(Date.parse(s.at)).toLocaleTimeString());
    document.body.setAttribute('data-updated', s.at);
  }

  function connect() {
    var source = new EventSource('/dashboard/events');
    source.addEventListener('open', function () { pill('live', 'live', 'good'); });
    var first = true;
    source.addEventListener('error', function () {
      pill('live', 'reconnecting', 'warn');
      first = true;
    });
    source.addEventListener('state', function (m) {
      var s = JSON.parse(m.data);
      if (first) {
        // The stream's first state carries the recent events; later ones arrive one by one.
        first = false;
        $('events').replaceChildren();
        s.events.slice().reverse().forEach(addEvent);
      }
      draw(s);
    });
    source.addEventListener('event', function (m) { addEvent(JSON.parse(m.data)); });
  }

  document.addEventListener('DOMContentLoaded', connect);
})();
