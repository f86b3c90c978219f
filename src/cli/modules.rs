//! `spydar modules list [--json]`: every module each input kind runs, read
//! from the registries themselves.

use std::io::Write as _;

use clap::{Args, Subcommand};

use super::EXIT_CLEAN;
use crate::artifacts::{INPUT_KINDS, ModuleEntry, modules};
use crate::error::Error;

#[derive(Args)]
pub struct ModulesArgs {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Subcommand)]
pub enum Action {
    /// One line per module and input kind: input kind, module, what it reads.
    List {
        /// A JSON array of {input_kind, module, artifact} instead.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: ModulesArgs) -> Result<u8, Error> {
    let Action::List { json } = args.action;
    let rows: Vec<ModuleEntry> = INPUT_KINDS.into_iter().flat_map(modules).collect();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let printed = if json {
        serde_json::to_writer_pretty(&mut out, &rows)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        out.write_all(table(&rows).as_bytes())
    };
    match printed {
        // `spydar modules list | head` is not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::io("stdout", e)),
        _ => Ok(EXIT_CLEAN),
    }
}

/// Columns padded to their widest cell.
pub fn table(rows: &[ModuleEntry]) -> String {
    let head = ("INPUT KIND", "MODULE", "ARTIFACT");
    let kind_w = rows
        .iter()
        .map(|r| r.input_kind.as_str().len())
        .chain([head.0.len()])
        .max()
        .unwrap_or(0);
    let module_w = rows
        .iter()
        .map(|r| r.module.len())
        .chain([head.1.len()])
        .max()
        .unwrap_or(0);
    let mut s = format!("{:<kind_w$}  {:<module_w$}  {}\n", head.0, head.1, head.2);
    for r in rows {
        s.push_str(&format!(
            "{:<kind_w$}  {:<module_w$}  {}\n",
            r.input_kind.as_str(),
            r.module,
            r.artifact
        ));
    }
    s
}
