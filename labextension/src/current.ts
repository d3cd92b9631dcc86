import { URLExt } from '@jupyterlab/coreutils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ServerConnection } from '@jupyterlab/services';
import { UUID } from '@lumino/coreutils';

import { EmbeddingChannel, MESSAGE_PREFIX } from './embedding';

/** The server's state of the user's current notebook (GET/PUT answers, current-changed events). */
export interface ICurrentNotebook {
  principal?: string;
  path: string | null;
  source: string | null;
  window: string | null;
}

/** The notebook this window shows, as last reported (null: none). */
export interface IFocusedNotebook {
  readonly path: string | null;
}

/**
 * Tells the server which notebook this window shows, in order, and remembers whether the
 * server's current notebook and last-used window are this window (so turning to it can reclaim them).
 */
export class CurrentNotebookReporter {
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
 * This window → server and embedding page: the notebook in focus (renames included), and the
 * window the user turns to takes the current notebook back.
 */
export function reportFocusedNotebook(
  tracker: INotebookTracker,
  reporter: CurrentNotebookReporter,
  channel: EmbeddingChannel,
  restored: Promise<void>
): IFocusedNotebook {
  const focused = { path: null as string | null };
  const show = (path: string | null) => {
    if (path === focused.path) {
      return;
    }
    focused.path = path;
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
    if (panel || focused.path !== null) {
      show(panel ? panel.context.path : null);
    }
  };
  tracker.currentChanged.connect(onCurrentChanged);
  onCurrentChanged(tracker, tracker.currentWidget);
  // With several windows, the one the user turns to wins.
  const reclaim = () => reporter.reclaim(focused.path);
  window.addEventListener('focus', reclaim);
  document.addEventListener('pointerdown', reclaim, true);
  document.addEventListener('keydown', reclaim, true);
  window.addEventListener('pagehide', () => reporter.leave());
  void restored.then(() => {
    // A new window is the one the user is looking at, even before it shows a notebook.
    reporter.reclaim(focused.path);
    channel.tellParent({
      type: `${MESSAGE_PREFIX}ready`,
      window: reporter.windowId,
      path: focused.path
    });
  });
  return focused;
}
