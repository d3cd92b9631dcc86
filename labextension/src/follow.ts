import { URLExt } from '@jupyterlab/coreutils';
import { INotebookTracker, Notebook } from '@jupyterlab/notebook';
import { ServerConnection } from '@jupyterlab/services';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { CurrentNotebookReporter } from './current';
import type { OpenNotebook } from './notebooks';

/** Where the server sends this user's UI events (ui_events.py), relative to the MCP path. */
const UI_EVENTS_PATH = 'ui-events';

/** Bounds of the wait before reconnecting the UI events socket (doubling in between). */
const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 30000;

/** How long a cell the agent just inserted may take to arrive over the collaboration socket. */
const CELL_ARRIVAL_TIMEOUT_MS = 3000;

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

type NotebookCell = Notebook['widgets'][number];

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

/** The user's "Follow the agent" setting, kept up to date (on until the settings say otherwise). */
export function followAgentSetting(
  settingRegistry: ISettingRegistry | null,
  pluginId: string
): () => boolean {
  let followAgent = true;
  settingRegistry
    ?.load(pluginId)
    .then(settings => {
      const read = () => {
        followAgent = settings.composite.followAgent as boolean;
      };
      read();
      settings.changed.connect(read);
    })
    .catch(reason => console.warn('jupyter-mcp-ext: settings not loaded:', reason));
  return () => followAgent;
}

/** The cell with ``id``, waiting a moment for one the agent has just inserted to arrive. */
function findCell(notebook: Notebook, id: string): Promise<NotebookCell | undefined> {
  const find = () => notebook.widgets.find(cell => cell.model.id === id);
  const found = find();
  if (found || !notebook.model) {
    return Promise.resolve(found);
  }
  const cells = notebook.model.cells;
  return new Promise<NotebookCell | undefined>(resolve => {
    const done = (cell: NotebookCell | undefined) => {
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

/** Scroll to the cell the agent edits or runs, if its notebook is on screen and not typed in. */
async function showCell(tracker: INotebookTracker, event: IContextEvent): Promise<void> {
  const panel = tracker.currentWidget;
  if (!panel || !panel.isVisible || panel.context.path !== event.path) {
    return;
  }
  const notebook = panel.content;
  const cell = await findCell(notebook, event.cell_id ?? '');
  const typing = notebook.mode === 'edit' && notebook.node.contains(document.activeElement);
  if (cell && !typing) {
    await notebook.scrollToCell(cell, 'smart');
  }
}

/**
 * Server → this window: learn the current notebook, open the notebooks agents prepare for this
 * window, and follow their edits.
 */
export function followServerEvents(
  serverSettings: ServerConnection.ISettings,
  mcpPath: string,
  reporter: CurrentNotebookReporter,
  tracker: INotebookTracker,
  openNotebook: OpenNotebook,
  followAgent: () => boolean
): void {
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
    } else if (event.action === 'show-cell' && followAgent()) {
      void showCell(tracker, event);
    }
  };
  new UIEventSocket(
    URLExt.join(serverSettings.wsUrl, mcpPath, UI_EVENTS_PATH),
    serverSettings,
    onEvent,
    loadCurrent
  ).connect();
}
