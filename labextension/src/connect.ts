import {
  Dialog,
  ICommandPalette,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import { JupyterFrontEnd } from '@jupyterlab/application';
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

export const CONNECT_COMMAND = 'jupyter-mcp-ext:connect-agent';

const TOKEN_PLACEHOLDER = '<token>';

/** What the server says about connecting a client (GET {mcpPath}/connect). */
interface IConnectInfo {
  mcp_path: string;
  hub: { user: string; scope: string; token_page: string } | null;
}

/** A token the hub made for this server (POST {mcpPath}/connect). */
interface ICreatedToken {
  token: string;
  expires_at: string | null;
}

/** The ready-to-paste client configurations for an endpoint and its token. */
export function clientConfigs(url: string, token: string): { claudeCode: string; mcpJson: string } {
  const header = `Bearer ${token || TOKEN_PLACEHOLDER}`;
  const server = { type: 'http', url, headers: { Authorization: header } };
  return {
    claudeCode: `claude mcp add --transport http jupyter ${url} --header "Authorization: ${header}"`,
    mcpJson: JSON.stringify({ mcpServers: { jupyter: server } }, null, 2)
  };
}

async function request<T>(
  settings: ServerConnection.ISettings,
  url: string,
  method: 'GET' | 'POST'
): Promise<T> {
  const response = await ServerConnection.makeRequest(url, { method }, settings);
  const body = await response.json();
  if (!response.ok) {
    throw new Error(body.message || `HTTP ${response.status}`);
  }
  return body as T;
}

/** The dialog's content: the endpoint, a token field, and the configurations that follow it. */
class ConnectPanel extends Widget {
  private readonly tokenInput = document.createElement('input');
  private readonly claudeCode = document.createElement('pre');
  private readonly mcpJson = document.createElement('pre');
  private readonly note = document.createElement('p');

  constructor(
    info: IConnectInfo,
    private readonly url: string,
    private readonly createToken: () => Promise<ICreatedToken>
  ) {
    super();
    this.addClass('jp-mcp-connect');
    const endpoint = document.createElement('p');
    endpoint.append('MCP URL: ');
    const code = document.createElement('code');
    code.textContent = url;
    endpoint.append(code);
    this.node.append(endpoint);

    this.tokenInput.type = 'text';
    this.tokenInput.placeholder = info.hub
      ? 'Create a token, or paste one made on the hub'
      : "This server's token";
    this.tokenInput.value = info.hub ? '' : PageConfig.getToken();
    this.tokenInput.addEventListener('input', () => this.render());
    const label = document.createElement('label');
    label.append('Token: ', this.tokenInput);
    this.node.append(label);

    if (info.hub) {
      const button = document.createElement('button');
      button.className = 'jp-mod-styled jp-mod-accept';
      button.textContent = 'Create a token for this server';
      button.addEventListener('click', () => void this.fillToken(button));
      this.node.append(button);
      this.note.textContent =
        `The token can reach only this server (${info.hub.scope}); ` +
        `manage tokens on the hub's token page, ${info.hub.token_page}.`;
    } else {
      this.note.textContent =
        "This server is not part of a JupyterHub: clients use the server's own token.";
    }
    this.node.append(this.note);
    for (const [title, block] of [
      ['Claude Code', this.claudeCode],
      ['mcp.json (Cursor, VS Code: "servers" instead of "mcpServers")', this.mcpJson]
    ] as const) {
      const heading = document.createElement('p');
      heading.textContent = title;
      const copy = document.createElement('button');
      copy.className = 'jp-mod-styled';
      copy.textContent = 'Copy';
      copy.addEventListener('click', () => void navigator.clipboard.writeText(block.textContent ?? ''));
      this.node.append(heading, block, copy);
    }
    this.render();
  }

  private render(): void {
    const configs = clientConfigs(this.url, this.tokenInput.value.trim());
    this.claudeCode.textContent = configs.claudeCode;
    this.mcpJson.textContent = configs.mcpJson;
  }

  private async fillToken(button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    try {
      const created = await this.createToken();
      this.tokenInput.value = created.token;
      this.note.textContent = created.expires_at
        ? `New token, valid until ${new Date(created.expires_at).toLocaleString()}. It is shown only here.`
        : 'New token. It is shown only here.';
      this.render();
    } catch (error) {
      this.note.textContent = (error as Error).message;
      button.disabled = false;
    }
  }
}

/** "Connect an AI agent…": the MCP URL of this server and ready-to-paste client configurations. */
export function addConnectCommand(
  app: JupyterFrontEnd,
  mcpPath: string,
  palette: ICommandPalette | null
): void {
  const settings = app.serviceManager.serverSettings;
  const connectUrl = URLExt.join(settings.baseUrl, mcpPath, 'connect');
  app.commands.addCommand(CONNECT_COMMAND, {
    label: 'Connect an AI agent…',
    caption: "Show this server's MCP URL and ready-to-paste client configurations",
    execute: async () => {
      try {
        const info = await request<IConnectInfo>(settings, connectUrl, 'GET');
        const url = new URL(info.mcp_path, window.location.origin).href;
        const panel = new ConnectPanel(info, url, () =>
          request<ICreatedToken>(settings, connectUrl, 'POST')
        );
        await showDialog({
          title: 'Connect an AI agent',
          body: panel,
          buttons: [Dialog.okButton({ label: 'Done' })]
        });
      } catch (error) {
        await showErrorMessage('Connect an AI agent', error as Error);
      }
    }
  });
  palette?.addItem({ command: CONNECT_COMMAND, category: 'MCP' });
}
