// The live tail: reads /v1/events from the cursor the page was rendered with, then long-polls
// (wait_ms) with the nextIdx of every answer, so no event is missed or shown twice, and
// prepends a row per event. Rows are built with DOM calls (textContent), never from HTML.
(function () {
  'use strict';

  var table = document.getElementById('tail');
  var statusLine = document.getElementById('tail-status');
  var counter = document.getElementById('tail-count');
  if (!table || !statusLine) { return; }
  var body = table.tBodies[0];
  var tones = JSON.parse(table.dataset.tones);
  var filter = JSON.parse(table.dataset.filter);
  var maxRows = parseInt(table.dataset.maxRows, 10) || 500;
  var cursor = table.dataset.since;
  var WAIT_MS = 25000;
  var shown = 0;
  var failures = 0;

  function setStatus(state, text) {
    statusLine.dataset.state = state;
    statusLine.textContent = text;
  }

  function cell(row, content, className) {
    var td = document.createElement('td');
    if (className) { td.className = className; }
    if (content instanceof Node) { td.appendChild(content); } else { td.textContent = content; }
    row.appendChild(td);
    return td;
  }

  function link(href, text) {
    var a = document.createElement('a');
    a.href = href;
    a.className = 'mono';
    a.textContent = text;
    return a;
  }

  function pill(status) {
    var span = document.createElement('span');
    span.className = 'pill ' + (tones[status] || 'tone-inactive');
    span.textContent = status;
    return span;
  }

  // Percent-encodes all but unreserved characters, as the server's links (format.rs).
  function segment(text) {
    return encodeURIComponent(text).replace(/[!'()*]/g, function (c) {
      return '%' + c.charCodeAt(0).toString(16).toUpperCase();
    });
  }

  function buildUrl(id) { return '/builds/' + segment(id); }

  function globLiteral(text) { return text.replace(/[*?[\]{}\\,]/g, '\\$&'); }

  function partitionLink(ref) {
    return link('/partitions?pattern=' + encodeURIComponent(globLiteral(ref)), ref);
  }

  function shortStatus(status, prefix) {
    if (!status) { return null; }
    return status.indexOf(prefix) === 0 ? status.slice(prefix.length) : status;
  }

  function time(text) {
    if (!text) { return ''; }
    var at = new Date(text);
    if (isNaN(at.getTime())) { return text; }
    return at.toISOString().slice(0, 19).replace('T', ' ');
  }

  // Kind, subject, status and detail of a proto3 JSON BuildEvent (as dashboard/events.rs).
  function describe(event, build) {
    var d = { kind: 'event', subject: document.createTextNode(''), status: null, detail: '' };
    var p;
    if ((p = event.buildRequest)) {
      d.kind = 'build request';
      d.subject = document.createElement('span');
      d.subject.className = 'muted';
      d.subject.textContent = 'the build';
      d.status = shortStatus(p.status, 'BUILD_REQUEST_');
      d.detail = p.message || '';
    } else if ((p = event.partition)) {
      d.kind = 'partition';
      d.subject = partitionLink(p.partitionRef || '');
      d.status = shortStatus(p.status, 'PARTITION_');
      d.detail = p.message || '';
    } else if ((p = event.jobRun)) {
      d.kind = 'job run';
      var id = p.jobRunId || '';
      d.subject = document.createElement('span');
      d.subject.appendChild(link(buildUrl(build) + '#run-' + segment(id), id));
      if (p.jobLabel) {
        var label = document.createElement('span');
        label.className = 'muted';
        label.textContent = ' ' + p.jobLabel;
        d.subject.appendChild(label);
      }
      d.status = shortStatus(p.status, 'JOB_RUN_');
      if (p.exitCode !== undefined) {
        d.detail = 'exit code ' + p.exitCode + (p.message ? ': ' + p.message : '');
      } else {
        d.detail = p.message || '';
      }
    } else if ((p = event.delegation)) {
      d.kind = 'delegation';
      d.subject = partitionLink(p.partitionRef || '');
      d.detail = (p.delegatedToBuildRequestId ? 'to ' + p.delegatedToBuildRequestId + ' ' : '') + (p.message || '');
    } else if ((p = event.invalidation)) {
      d.kind = 'invalidation';
      d.subject = partitionLink(p.partitionRef || '');
      d.status = 'INVALIDATED';
      d.detail = p.reason || '';
    }
    return d;
  }

  function addRow(event, fresh) {
    var build = event.buildRequestId || '';
    var d = describe(event, build);
    var row = document.createElement('tr');
    row.dataset.idx = event.idx;
    if (fresh) { row.className = 'fresh'; }
    cell(row, String(event.idx), 'num');
    cell(row, time(event.timestamp), 'nowrap');
    cell(row, build ? link(buildUrl(build), build) : '', 'nowrap');
    cell(row, d.kind, 'nowrap');
    cell(row, d.subject);
    cell(row, d.status ? pill(d.status) : '');
    cell(row, d.detail);
    body.insertBefore(row, body.firstChild);
    while (body.rows.length > maxRows) { body.deleteRow(body.rows.length - 1); }
    shown += 1;
    counter.textContent = shown === 1 ? '1 event' : shown + ' events';
  }

  function url(wait) {
    var params = new URLSearchParams();
    params.set('since_idx', cursor);
    if (wait) { params.set('wait_ms', String(WAIT_MS)); }
    filter.forEach(function (pair) { params.append(pair[0], pair[1]); });
    return '/v1/events?' + params.toString();
  }

  // One read: the backlog without waiting (until it is caught up), then long polls.
  function read(live) {
    return fetch(url(live), { headers: { Accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin' })
      .then(function (response) {
        if (response.ok) { return response.json(); }
        return response.json().catch(function () { return {}; }).then(function (problem) {
          var error = new Error(problem.message || ('HTTP ' + response.status));
          error.status = response.status;
          throw error;
        });
      })
      .then(function (page) {
        (page.events || []).forEach(function (event) { addRow(event, live); });
        if (page.nextIdx !== undefined) { cursor = page.nextIdx; }
        failures = 0;
        var caughtUp = !page.hasMore;
        if (caughtUp) { setStatus('live', 'Live: waiting for new events'); }
        return caughtUp;
      });
  }

  function loop(live) {
    read(live).then(function (caughtUp) {
      loop(live || caughtUp);
    }, function (error) {
      if (error.status === 401) {
        setStatus('error', 'Not logged in: reload the page to log in.');
        return;
      }
      failures += 1;
      var delay = Math.min(30000, 1000 * Math.pow(2, failures - 1)) * (0.5 + Math.random() / 2);
      setStatus('error', 'Reconnecting in ' + Math.round(delay / 1000) + ' s: ' + error.message);
      setTimeout(function () { loop(live); }, delay);
    });
  }

  counter.textContent = '0 events';
  setStatus('starting', 'Reading recent events…');
  loop(false);
})();
