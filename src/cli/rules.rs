//! `spydar rules list [--json]`: the catalogue of heuristic rules.

use clap::{Args, Subcommand};

use super::EXIT_CLEAN;
use crate::error::Error;

#[derive(Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Subcommand)]
pub enum Action {
    /// One line per rule: id, level, severity, title and source, tab-separated.
    List {
        /// Print the whole catalogue as JSON (with each rule's explanation and reference).
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: RulesArgs) -> Result<u8, Error> {
    let Action::List { json } = args.action;
    if json {
        let text = serde_json::to_string_pretty(crate::rules::ALL)
            .expect("the catalogue is strings and enums");
        println!("{text}");
    } else {
        for r in crate::rules::ALL {
            println!(
                "{}\t{}\t{}\t{}\t{}",
                r.id,
                r.level.as_str(),
                r.severity.as_str(),
                r.title,
                crate::rules::source(r).name
            );
        }
    }
    Ok(EXIT_CLEAN)
}
