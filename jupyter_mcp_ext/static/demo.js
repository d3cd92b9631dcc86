// The demo page: MCP over plain fetch() to this server's endpoint (the stateless 2026-07-28
// protocol: one POST per request), and the postMessage API of the JupyterLab extension.
'use strict';

const config = JSON.parse(document.getElementById('demo-config').textContent);
const PROTOCOL_VERSION = '2026-07-28';
const WORKSPACE = 'mcp-demo';
const $ = id => document.getElementById(id);

let nextId = 1;
const log = (text, kind = '') => {
  const item = document.createElement('li');
  item.textContent = text;
  item.className = kind;
  $('log').append(item);
  item.scrollIntoView({ block: 'nearest' });
};

/** One JSON-RPC request to the MCP endpoint; the answer comes as JSON or as an SSE stream. */
async function mcpRequest(method, params) {
  const id = nextId++;
  const headers = {
    'Content-Type': 'application/json',
    Accept: 'application/json, text/event-stream',
    'mcp-protocol-version': PROTOCOL_VERSION,
    'mcp-method': method,
    'X-XSRFToken': config.xsrfToken
  };
  if (method === 'tools/call') {
    headers['mcp-name'] = params.name;
  }
  const body = {
    jsonrpc: '2.0',
    id,
    method,
    params: {
      ...params,
      _meta: {
        'io.modelcontextprotocol/protocolVersion': PROTOCOL_VERSION,
        'io.modelcontextprotocol/clientCapabilities': {},
        'io.modelcontextprotocol/clientInfo': { name: 'jupyter-mcp-ext demo page', version: '1' }
      }
    }
  };
  const response = await fetch(config.mcpUrl, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
    credentials: 'same-origin'
  });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`HTTP ${response.status}: ${text}`);
  }
  const messages = (response.headers.get('content-type') || '').startsWith('text/event-stream')
    ? text
        .split('\n')
        .filter(line => line.startsWith('data:'))
        .map(line => JSON.parse(line.slice(5)))
    : [JSON.parse(text)];
  const answer = messages.find(message => message.id === id);
  if (!answer) {
    throw new Error(`no answer to request ${id} in: ${text}`);
  }
  if (answer.error) {
    throw new Error(`${answer.error.code}: ${answer.error.message}`);
  }
  return answer.result;
}

/** Call a tool, log the call and its answer (the text the model would read). */
async function callTool(name, args) {
  log(`→ ${name} ${JSON.stringify(args)}`);
  try {
    const result = await mcpRequest('tools/call', { name, arguments: args });
    const text = result.content
      .map(block => (block.type === 'text' ? block.text : `[${block.type} ${block.mimeType || ''}]`))
      .join('\n');
    log(`← ${name}${result.isError ? ' (error)' : ''}: ${text}`, result.isError ? 'error' : '');
    return result;
  } catch (error) {
    log(`← ${name} failed: ${error.message}`, 'error');
    return null;
  }
}

const pathArg = () => {
  const path = $('path').value.trim();
  return path ? { notebook_path: path } : {};
};

// -- the JupyterLab iframe --------------------------------------------------------------------
const frame = $('lab');
let frameReady = false;
let pendingMessages = [];
let nextRequestId = 1;

const encodePath = path => path.split('/').map(encodeURIComponent).join('/');
const labUrl = path =>
  `${config.baseUrl}lab/workspaces/${WORKSPACE}${path ? '/tree/' + encodePath(path) : ''}?reset`;

function loadFrame(path) {
  frameReady = false;
  $('frame-state').textContent = '(JupyterLab loading)';
  frame.src = labUrl(path);
}

/** Send a request to JupyterLab; held back until the frame has announced that it is ready. */
function tellFrame(message) {
  if (message.requestId === undefined) {
    message = { ...message, requestId: nextRequestId++ };
  }
  if (!frameReady) {
    pendingMessages.push(message);
    return;
  }
  log(`⇢ frame ${JSON.stringify(message)}`, 'frame');
  frame.contentWindow.postMessage(message, window.location.origin);
}

window.addEventListener('message', event => {
  if (event.origin !== window.location.origin || event.source !== frame.contentWindow) {
    return;
  }
  const message = event.data || {};
  if (message.type === 'jupyter-mcp:ready') {
    frameReady = true;
    $('frame-state').textContent = '(JupyterLab ready)';
    const waiting = pendingMessages;
    pendingMessages = [];
    waiting.forEach(tellFrame);
  } else if (message.type === 'jupyter-mcp:active-notebook') {
    $('active-notebook').textContent = message.path || '—';
  }
  if (typeof message.type === 'string' && message.type.startsWith('jupyter-mcp:')) {
    log(`⇠ frame ${JSON.stringify(message)}`, 'frame');
  }
});

// -- the buttons -------------------------------------------------------------------------------
const on = (id, action) => $(id).addEventListener('click', action);

on('list-notebooks', async () => {
  const result = await callTool('list_notebooks', {});
  const listed = result?.structuredContent?.notebooks || [];
  $('notebooks').replaceChildren(
    ...listed.map(entry => Object.assign(document.createElement('option'), { value: entry.path }))
  );
});
on('prepare-notebook', () =>
  callTool('prepare_notebook', { notebook_path: $('path').value.trim(), create: $('create').checked })
);
on('switch-by-url', () => loadFrame($('path').value.trim()));
on('switch-by-message', () =>
  tellFrame({ type: 'jupyter-mcp:open-notebook', path: $('path').value.trim() })
);
on('append-markdown', () => callTool('append_markdown_cell', { ...pathArg(), source: $('markdown').value }));
on('append-code', () => callTool('append_code_cell', { ...pathArg(), source: $('code').value }));
on('run-cell', () =>
  callTool('execute_cell', { ...pathArg(), cell_index: Number($('cell-index').value), timeout: 60 })
);
on('read-cells', () => callTool('read_all_cells', pathArg()));
on('clear-log', () => $('log').replaceChildren());

loadFrame(new URLSearchParams(window.location.search).get('path') || '');
