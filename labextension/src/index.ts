import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { Notebook, INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ServerConnection } from '@jupyterlab/services';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { UUID } from '@lumino/coreutils';

const PLUGIN_ID = 'jupyter-mcp-ext:plugin';

/** Where the server sends this user's UI events (ui_events.py), relative to the MCP path. */
const UI_EVENTS_PATH = 'ui-events';

/** Bounds of the wait before reconnecting the UI events socket (doubling in between). */
const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 30000;

/** Every postMessage this extension sends or accepts has a type starting with this. */
const MESSAGE_PREFIX = 'jupyter-mcp:';

/** How long a cell the agent just inserted may take to arrive over the collaboration socket. */
const CELL_ARRIVAL_TIMEOUT_MS = 3000;

/** Options the server extension puts in the page config (embedding.py). */
interface IServerOptions {
  allowedOrigins: string[];
  mcpPath: string;
}

/** A UI event from the server (ui_events.py). */
interface IContextEvent {
  action: 'current-changed' | 'open-notebook' | 'show-cell';
  principal: string;
  path: string | null;
  source?: string | null;
  window?: string | null;
  cell_id?: string | null;
  cell_index?: number | null;
}

/** A message from the embedding page. */
interface IParentRequest {
  type: string;
  requestId?: unknown;
  path?: unknown;
}

function readServerOptions(): IServerOptions | null {
  const raw = PageConfig.getOption('jupyterMcpExt');
  if (!raw) {
    return null;
  }
  const parsed = JSON.parse(raw) as IServerOptions;
  return { allowedOrigins: parsed.allowedOrigins, mcpPath: parsed.mcpPath };
}

/** The server's state of the user's current notebook (GET/PUT answers, current-changed events). */
interface ICurrentNotebook {
  principal?: string;
  path: string | null;
  source: string | null;
  window: string | null;
}

/**
 * Tells the server which notebook this window shows, in order, and remembers whether the
 * server's current notebook and last-used window are this window (so turning to it can reclaim them).
 */
class CurrentNotebookReporter {
  readonly windowId = UUID.uuid4();
  private server: ICurrentNotebook = { path: null, source: null, window: null };
  private queue: Promise<void> = Promise.resolve();
  private readonly url: string;

  constructor(
    mcpPath: string,
    private readonly settings: ServerConnection.ISettings
  ) {
    this.url = URLExt.join(settings.baseUrl, mcpPath, 'current-notebook');
  }

  async load(): Promise<void> {
    this.server = await this.request('GET');
  }

  /** What the server says now (from an event). */
  update(state: ICurrentNotebook): void {
    this.server = state;
  }

  /** Report ``path`` (null: this window closed its last notebook); reports are sent in order. */
  report(path: string | null): Promise<void> {
    return this.send('PUT', { path, window: this.windowId });
  }

  /** The user turned to this window (showing ``path``): take back what another window or an agent set. */
  reclaim(path: string | null): void {
    if (path !== null && this.server.source !== this.windowId) {
      void this.report(path);
    } else if (path === null && this.server.window !== this.windowId) {
      void this.send('PUT', { window: this.windowId });
    }
    this.server = { ...this.server, window: this.windowId };
  }

  /** This window is closing: agents' "open" requests must not wait for it. */
  leave(): void {
    const url = `${this.url}?window=${encodeURIComponent(this.windowId)}`;
    void ServerConnection.makeRequest(url, { method: 'DELETE', keepalive: true }, this.settings);
  }

  private send(method: string, body: object): Promise<void> {
    this.queue = this.queue
      .then(async () => {
        this.server = await this.request(method, body);
      })
      .catch(reason => console.warn('jupyter-mcp-ext: report failed:', reason));
    return this.queue;
  }

  private async request(method: string, body?: object): Promise<ICurrentNotebook> {
    const init: RequestInit = { method };
    if (body) {
      init.body = JSON.stringify(body);
    }
    const response = await ServerConnection.makeRequest(this.url, init, this.settings);
    const answer = await response.json();
    if (!response.ok) {
      throw new Error(`${response.status}: ${answer.message ?? response.statusText}`);
    }
    return answer;
  }
}

/**
 * This user's UI events, from the server's own websocket: Jupyter's event bus would show them
 * to every user. Reconnects after the server went away, and says so (events may have been missed).
 */
class UIEventSocket {
  private retryMs = RECONNECT_MIN_MS;
  private opened = false;

  constructor(
    private readonly url: string,
    private readonly settings: ServerConnection.ISettings,
    private readonly onEvent: (event: IContextEvent) => void,
    private readonly onReconnect: () => void
  ) {}

  connect(): void {
    const { appendToken, token, WebSocket } = this.settings;
    // As JupyterLab's own sockets: the login cookie authenticates, a token only across hosts.
    const url = appendToken && token !== '' ? `${this.url}?token=${encodeURIComponent(token)}` : this.url;
    const socket = new WebSocket(url);
    socket.onopen = () => {
      this.retryMs = RECONNECT_MIN_MS;
      if (this.opened) {
        this.onReconnect();
      }
      this.opened = true;
    };
    socket.onmessage = message => this.onEvent(JSON.parse(message.data) as IContextEvent);
    socket.onclose = () => {
      setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(2 * this.retryMs, RECONNECT_MAX_MS);
    };
  }
}

/**
 * The postMessage channel with the page that embeds JupyterLab: only allowed origins are
 * heard, and messages go to a known origin, never '*'.
 */
class EmbeddingChannel {
  private readonly allowed: Set<string>;
  private parentOrigin: string | null;

  constructor(allowedOrigins: string[]) {
    this.allowed = new Set([window.location.origin, ...allowedOrigins]);
    this.parentOrigin = this.detectParentOrigin();
  }

  tellParent(message: object): void {
    if (this.parentOrigin) {
      window.parent.postMessage(message, this.parentOrigin);
    }
  }

  listen(
    handle: (request: IParentRequest) => Promise<object>
  ): void {
    window.addEventListener('message', event => {
      const request = event.data as IParentRequest;
      if (
        !this.allowed.has(event.origin) ||
        typeof request?.type !== 'string' ||
        !request.type.startsWith(MESSAGE_PREFIX) ||
        !event.source
      ) {
        return;
      }
      if (event.source === window.parent) {
        this.parentOrigin = event.origin;
      }
      const source = event.source as Window;
      void handle(request).then(reply =>
        source.postMessage(
          {
            type: `${MESSAGE_PREFIX}result`,
            request: request.type.slice(MESSAGE_PREFIX.length),
            requestId: request.requestId ?? null,
            ...reply
          },
          event.origin
        )
      );
    });
  }

  private detectParentOrigin(): string | null {
    if (window.parent === window) {
      return null;
    }
    const ancestors = window.location.ancestorOrigins;
    let origin: string | null = null;
    if (ancestors && ancestors.length > 0) {
      origin = ancestors[0];
    } else if (document.referrer) {
      origin = new URL(document.referrer).origin;
    }
    return origin && this.allowed.has(origin) ? origin : null;
  }
}

/** The cell with ``id``, waiting a moment for one the agent has just inserted to arrive. */
function findCell(notebook: Notebook, id: string) {
  const find = () => notebook.widgets.find(cell => cell.model.id === id);
  const found = find();
  if (found || !notebook.model) {
    return Promise.resolve(found);
  }
  const cells = notebook.model.cells;
  return new Promise<ReturnType<typeof find>>(resolve => {
    const done = (cell: ReturnType<typeof find>) => {
      cells.changed.disconnect(onChange);
      clearTimeout(timer);
      resolve(cell);
    };
    const onChange = () => {
      const cell = find();
      if (cell) {
        done(cell);
      }
    };
    const timer = setTimeout(() => done(undefined), CELL_ARRIVAL_TIMEOUT_MS);
    cells.changed.connect(onChange);
  });
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'The MCP agent context follows the notebook on screen; agents can open notebooks and be followed.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    settingRegistry: ISettingRegistry | null
  ) => {
    const options = readServerOptions();
    if (!options) {
      console.warn('jupyter-mcp-ext: the server extension is not enabled; the agent context is off.');
      return;
    }
    const reporter = new CurrentNotebookReporter(
      options.mcpPath,
      app.serviceManager.serverSettings
    );
    const channel = new EmbeddingChannel(options.allowedOrigins);
    // Nothing here waits: JupyterLab restores its layout only once every plugin is active.
    let followAgent = true;
    settingRegistry
      ?.load(PLUGIN_ID)
      .then(settings => {
        const read = () => {
          followAgent = settings.composite.followAgent as boolean;
        };
        read();
        settings.changed.connect(read);
      })
      .catch(reason => console.warn('jupyter-mcp-ext: settings not loaded:', reason));

    // -- this window → server and embedding page: the notebook in focus ------------------------
    let shownPath: string | null = null;
    const show = (path: string | null) => {
      if (path === shownPath) {
        return;
      }
      shownPath = path;
      void reporter.report(path);
      channel.tellParent({ type: `${MESSAGE_PREFIX}active-notebook`, path });
    };
    const onPathChanged = (_: unknown, path: string) => show(path);
    let watched: NotebookPanel | null = null;
    const onCurrentChanged = (_: unknown, panel: NotebookPanel | null) => {
      watched?.context.pathChanged.disconnect(onPathChanged);
      watched = panel;
      panel?.context.pathChanged.connect(onPathChanged);
      // Closing the last notebook is reported; a window that never showed one stays silent.
      if (panel || shownPath !== null) {
        show(panel ? panel.context.path : null);
      }
    };
    tracker.currentChanged.connect(onCurrentChanged);
    onCurrentChanged(tracker, tracker.currentWidget);
    // With several windows, the one the user turns to wins.
    const reclaim = () => reporter.reclaim(shownPath);
    window.addEventListener('focus', reclaim);
    document.addEventListener('pointerdown', reclaim, true);
    document.addEventListener('keydown', reclaim, true);
    window.addEventListener('pagehide', () => reporter.leave());

    // -- server → this window: agents open notebooks and are followed --------------------------
    const openNotebook = async (path: string) => {
      const model = await app.serviceManager.contents.get(path, { content: false });
      if (model.type !== 'notebook') {
        throw new Error(`${path} is a ${model.type}, not a notebook`);
      }
      const widget = await app.commands.execute('docmanager:open', { path });
      if (widget?.id) {
        app.shell.activateById(widget.id);
      }
    };
    const showCell = async (event: IContextEvent) => {
      const panel = tracker.currentWidget;
      if (!followAgent || !panel || !panel.isVisible || panel.context.path !== event.path) {
        return;
      }
      const notebook = panel.content;
      const cell = await findCell(notebook, event.cell_id ?? '');
      const typing = notebook.mode === 'edit' && notebook.node.contains(document.activeElement);
      if (cell && !typing) {
        await notebook.scrollToCell(cell, 'smart');
      }
    };
    const loadCurrent = () =>
      reporter
        .load()
        .catch(reason => console.warn('jupyter-mcp-ext: current notebook unknown:', reason));
    loadCurrent();
    const onEvent = (event: IContextEvent) => {
      if (event.action === 'current-changed') {
        reporter.update({
          path: event.path,
          source: event.source ?? null,
          window: event.window ?? null
        });
      } else if (
        event.action === 'open-notebook' &&
        event.path &&
        (!event.window || event.window === reporter.windowId)
      ) {
        openNotebook(event.path).catch(reason =>
          console.warn(`jupyter-mcp-ext: cannot open ${event.path}:`, reason)
        );
      } else if (event.action === 'show-cell') {
        void showCell(event);
      }
    };
    const settings = app.serviceManager.serverSettings;
    new UIEventSocket(
      URLExt.join(settings.wsUrl, options.mcpPath, UI_EVENTS_PATH),
      settings,
      onEvent,
      loadCurrent
    ).connect();

    // -- embedding page → this window ----------------------------------------------------------
    channel.listen(async request => {
      const action = request.type.slice(MESSAGE_PREFIX.length);
      if (action === 'get-active-notebook') {
        return { ok: true, path: shownPath };
      }
      if (action !== 'open-notebook') {
        return {
          ok: false,
          error: `Unknown request ${request.type}; valid: ${MESSAGE_PREFIX}open-notebook, ${MESSAGE_PREFIX}get-active-notebook`
        };
      }
      if (typeof request.path !== 'string' || !request.path) {
        return { ok: false, error: "open-notebook needs a 'path' (relative to the server root)" };
      }
      try {
        await openNotebook(request.path);
        return { ok: true, path: request.path };
      } catch (reason) {
        return { ok: false, path: request.path, error: `Cannot open ${request.path}: ${reason}` };
      }
    });
    void app.restored.then(() => {
      // A new window is the one the user is looking at, even before it shows a notebook.
      reporter.reclaim(shownPath);
      channel.tellParent({
        type: `${MESSAGE_PREFIX}ready`,
        window: reporter.windowId,
        path: shownPath
      });
    });
  }
};

export default plugin;
