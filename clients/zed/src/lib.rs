//! Zed extension that starts ifai-lsp for the languages listed in extension.toml.
//!
//! The server is found in this order: the `lsp.ifai-lsp.binary.path` setting, `ifai-lsp` on
//! the worktree's PATH, and finally the `ifai-lsp` npm package installed into the extension's
//! own folder and run with Zed's Node. Settings under `lsp.ifai-lsp.initialization_options`
//! and `lsp.ifai-lsp.settings` reach the server as initializationOptions and as the "ifai"
//! section of workspace/configuration.

use zed_extension_api::{self as zed, settings::LspSettings, LanguageServerId, Result};

const SERVER_ID: &str = "ifai-lsp";
const NPM_PACKAGE: &str = "ifai-lsp";
const NPM_ENTRY: &str = "node_modules/ifai-lsp/bin/ifai-lsp.js";

struct IfaiExtension {
    /// Set once the npm copy has been checked this session, so it is not re-checked per language.
    npm_entry_ready: bool,
}

impl IfaiExtension {
    /// Installs or updates the npm package when no binary was configured or found on PATH.
    fn npm_entry(&mut self, id: &LanguageServerId) -> Result<String> {
        if !self.npm_entry_ready {
            zed::set_language_server_installation_status(
                id,
                &zed::LanguageServerInstallationStatus::CheckingForUpdate,
            );
            let installed = zed::npm_package_installed_version(NPM_PACKAGE)?;
            match zed::npm_package_latest_version(NPM_PACKAGE) {
                Ok(latest) if installed.as_deref() != Some(latest.as_str()) => {
                    zed::set_language_server_installation_status(
                        id,
                        &zed::LanguageServerInstallationStatus::Downloading,
                    );
                    // An older installed copy still works; only fail without one.
                    if let Err(error) = zed::npm_install_package(NPM_PACKAGE, &latest) {
                        if installed.is_none() {
                            return Err(format!("could not install {NPM_PACKAGE} from npm: {error}"));
                        }
                    }
                }
                Ok(_) => {}
                // Offline: the installed copy is used as it is.
                Err(error) if installed.is_none() => {
                    return Err(format!("{NPM_PACKAGE} is not installed and npm cannot be reached: {error}"));
                }
                Err(_) => {}
            }
            zed::set_language_server_installation_status(id, &zed::LanguageServerInstallationStatus::None);
            self.npm_entry_ready = true;
        }
        let dir = std::env::current_dir().map_err(|error| error.to_string())?;
        Ok(dir.join(NPM_ENTRY).to_string_lossy().into_owned())
    }
}

impl zed::Extension for IfaiExtension {
    fn new() -> Self {
        Self { npm_entry_ready: false }
    }

    fn language_server_command(&mut self, id: &LanguageServerId, worktree: &zed::Worktree) -> Result<zed::Command> {
        let binary = LspSettings::for_worktree(SERVER_ID, worktree).ok().and_then(|s| s.binary);
        let configured_args = binary.as_ref().and_then(|b| b.arguments.clone());
        let args = configured_args.unwrap_or_else(|| vec!["--stdio".to_string()]);

        if let Some(path) = binary.and_then(|b| b.path) {
            return Ok(zed::Command { command: path, args, env: worktree.shell_env() });
        }
        if let Some(path) = worktree.which(SERVER_ID) {
            return Ok(zed::Command { command: path, args, env: worktree.shell_env() });
        }
        let entry = self.npm_entry(id)?;
        let mut node_args = vec![entry];
        node_args.extend(args);
        Ok(zed::Command { command: zed::node_binary_path()?, args: node_args, env: worktree.shell_env() })
    }

    fn language_server_initialization_options(
        &mut self,
        _id: &LanguageServerId,
        worktree: &zed::Worktree,
    ) -> Result<Option<zed::serde_json::Value>> {
        Ok(LspSettings::for_worktree(SERVER_ID, worktree).ok().and_then(|s| s.initialization_options))
    }

    fn language_server_workspace_configuration(
        &mut self,
        _id: &LanguageServerId,
        worktree: &zed::Worktree,
    ) -> Result<Option<zed::serde_json::Value>> {
        // The server asks for the "ifai" section, so the user's settings are nested under it.
        let settings = LspSettings::for_worktree(SERVER_ID, worktree).ok().and_then(|s| s.settings);
        Ok(settings.map(|value| zed::serde_json::json!({ "ifai": value })))
    }
}

zed::register_extension!(IfaiExtension);
