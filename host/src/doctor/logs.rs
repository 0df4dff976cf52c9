//! Where the host's logs are, so that a bug report can include them.

use super::{Check, Context, Status, Topic};
use crate::install::Platform;

pub(super) fn check(context: &Context) -> Check {
    let lang = context.language;
    match &context.log_directory {
        Some(directory) => Check {
            topic: Topic::Logs,
            status: Status::Ok,
            text: lang.pick(
                format!("Logs: {} (one file per day, cpx-connect.YYYY-MM-DD.log; level: {}=debug)", directory.display(), crate::logging::LEVEL_VARIABLE),
                format!("Journaux : {} (un fichier par jour, cpx-connect.AAAA-MM-JJ.log ; niveau : {}=debug)", directory.display(), crate::logging::LEVEL_VARIABLE),
            ),
            fix: None,
        },
        None => Check {
            topic: Topic::Logs,
            status: Status::Warn,
            text: if context.platform == Platform::Windows {
                lang.pick("Logs: no log folder (LOCALAPPDATA is not set)", "Journaux : aucun dossier (LOCALAPPDATA n'est pas défini)")
            } else {
                lang.pick("Logs: no log folder (HOME is not set)", "Journaux : aucun dossier (HOME n'est pas défini)")
            }.to_owned(),
            fix: Some(format!("{}=/path/to/logs", crate::logging::DIRECTORY_VARIABLE)),
        },
    }
}
