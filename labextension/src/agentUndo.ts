import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette, showErrorMessage } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ServerConnection } from '@jupyterlab/services';

export const UNDO_COMMAND = 'jupyter-mcp-ext:undo-agent-change';
export const REDO_COMMAND = 'jupyter-mcp-ext:redo-agent-change';

/** Where the server keeps agents' undo histories, relative to the MCP path. */
const AGENT_UNDO_PATH = 'agent-undo';

/**
 * After the notebook changes, how long before the histories are asked again: changes in between
 * share that one request, so typing costs at most one request per interval.
 */
const REFRESH_DELAY_MS = 300;

type Action = 'undo' | 'redo';

/** One step of an agent's history, as the server describes it (``at``: unix seconds). */
interface IAgentStep {
  description: string;
  at: number;
}

/** An agent with something to undo or redo in the notebook (most recent steps first). */
interface IAgentHistory {
  id: string;
  name: string;
  undo: IAgentStep[];
  redo: IAgentStep[];
}

/** GET {mcpPath}/agent-undo?path=… */
interface IAgentUndoState {
  path: string;
  agents: IAgentHistory[];
}

/** POST {mcpPath}/agent-undo */
interface IAgentUndoDone {
  done: string[];
  agents: IAgentHistory[];
}

/** The step an action would take: with several agents, the most recent one. */
interface INextStep {
  agent: IAgentHistory;
  step: IAgentStep;
}

function nextStep(agents: IAgentHistory[], action: Action): INextStep | null {
  let next: INextStep | null = null;
  for (const agent of agents) {
    const step = agent[action][0];
    if (step && (!next || step.at > next.step.at)) {
      next = { agent, step };
    }
  }
  return next;
}

const VERB: Record<Action, string> = { undo: 'Undo', redo: 'Redo' };

/** The agents' undo histories of the notebook on screen, as the server last told them. */
class AgentHistories {
  private path: string | null = null;
  private agents: IAgentHistory[] = [];
  private problem: string | null = null;
  // Answers to requests older than the latest are dropped: they describe an earlier state.
  private requests = 0;

  constructor(
    private readonly url: string,
    private readonly settings: ServerConnection.ISettings,
    private readonly onChange: () => void
  ) {}

  /** Turn to the notebook at ``path`` (null: none on screen). */
  show(path: string | null): void {
    this.path = path;
    this.update(++this.requests, [], null);
    void this.load();
  }

  async load(): Promise<void> {
    const path = this.path;
    const request = ++this.requests;
    if (path === null) {
      return;
    }
    try {
      const url = `${this.url}?path=${encodeURIComponent(path)}`;
      const state = await this.request<IAgentUndoState>(url, { method: 'GET' });
      this.update(request, state.agents, null);
    } catch (error) {
      this.update(request, [], `Agent changes unknown: ${(error as Error).message}`);
    }
  }

  next(action: Action): INextStep | null {
    return nextStep(this.agents, action);
  }

  /** What the button says: which agent and which step, or why there is nothing to do. */
  caption(action: Action): string {
    const next = this.next(action);
    if (next) {
      return `${VERB[action]} ${next.agent.name}: ${next.step.description}`;
    }
    return this.problem ?? `No agent change to ${action} in this notebook`;
  }

  /** Undo or redo the most recent step; returns what the server did. */
  async act(action: Action): Promise<string[]> {
    const next = this.next(action);
    if (!next || this.path === null) {
      throw new Error(`No agent change to ${action} in this notebook.`);
    }
    const request = ++this.requests;
    const body = { path: this.path, agent: next.agent.id, action, steps: 1 };
    const answer = await this.request<IAgentUndoDone>(this.url, {
      method: 'POST',
      body: JSON.stringify(body)
    });
    this.update(request, answer.agents, null);
    return answer.done;
  }

  private update(request: number, agents: IAgentHistory[], problem: string | null): void {
    if (request === this.requests) {
      this.agents = agents;
      this.problem = problem;
      this.onChange();
    }
  }

  private async request<T>(url: string, init: RequestInit): Promise<T> {
    const response = await ServerConnection.makeRequest(url, init, this.settings);
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error(body.message || `HTTP ${response.status} ${response.statusText}`);
    }
    return body as T;
  }
}

/** Keep ``histories`` on the notebook in focus, refreshed soon after each change of its content. */
function followCurrentNotebook(tracker: INotebookTracker, histories: AgentHistories): void {
  let timer: number | undefined;
  const refreshSoon = () => {
    if (timer === undefined) {
      timer = window.setTimeout(() => {
        timer = undefined;
        void histories.load();
      }, REFRESH_DELAY_MS);
    }
  };
  const onPathChanged = (_: unknown, path: string) => histories.show(path);
  let watched: NotebookPanel | null = null;
  const onCurrentChanged = (_: unknown, panel: NotebookPanel | null) => {
    watched?.context.pathChanged.disconnect(onPathChanged);
    watched?.context.model.contentChanged.disconnect(refreshSoon);
    watched = panel;
    panel?.context.pathChanged.connect(onPathChanged);
    panel?.context.model.contentChanged.connect(refreshSoon);
    histories.show(panel ? panel.context.path : null);
  };
  tracker.currentChanged.connect(onCurrentChanged);
  onCurrentChanged(tracker, tracker.currentWidget);
}

/**
 * "Undo agent change" and "Redo agent change": the person takes back (or restores) the most recent
 * change an agent made to the notebook in focus; the server undoes only that agent's changes, never
 * what a person typed. Commands for the palette and the notebook toolbar (schema/plugin.json).
 */
export function addAgentUndoCommands(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  mcpPath: string,
  palette: ICommandPalette | null
): void {
  const { commands } = app;
  const settings = app.serviceManager.serverSettings;
  const histories = new AgentHistories(
    URLExt.join(settings.baseUrl, mcpPath, AGENT_UNDO_PATH),
    settings,
    () => {
      commands.notifyCommandChanged(UNDO_COMMAND);
      commands.notifyCommandChanged(REDO_COMMAND);
    }
  );
  const execute = async (action: Action) => {
    try {
      await histories.act(action);
    } catch (error) {
      void histories.load();
      await showErrorMessage(`${VERB[action]} agent change`, error as Error);
    }
  };
  commands.addCommand(UNDO_COMMAND, {
    label: 'Undo agent change',
    caption: () => histories.caption('undo'),
    isEnabled: () => histories.next('undo') !== null,
    execute: () => execute('undo')
  });
  commands.addCommand(REDO_COMMAND, {
    label: 'Redo agent change',
    caption: () => histories.caption('redo'),
    isEnabled: () => histories.next('redo') !== null,
    // The toolbar shows redo only once there is something to redo.
    isVisible: args => !args.toolbar || histories.next('redo') !== null,
    execute: () => execute('redo')
  });
  palette?.addItem({ command: UNDO_COMMAND, category: 'MCP' });
  palette?.addItem({ command: REDO_COMMAND, category: 'MCP' });
  followCurrentNotebook(tracker, histories);
}
