//! What the operator launches from a screen: previews of runbooks and
//! the guards before sending, the typed confirmations of instance and S3
//! changes, downloads, and starting a run.

use super::*;

impl App {
    /// Why the console would not send `run`: read-only mode for anything
    /// but a read runbook, or a host that cannot be reached ([`crate::ops::guard`]).
    pub fn run_refusal(&self, run: &RenderedRun) -> Option<String> {
        crate::ops::guard(run, self.read_only(), &self.estate.instances.data)
            .err()
            .map(|r| r.to_string())
    }

    pub(super) fn open_preview(
        &mut self,
        run: Result<RenderedRun, crate::ops::PrepareError>,
        values: BTreeMap<String, String>,
    ) -> Vec<Effect> {
        match run {
            Ok(run) => match self.run_refusal(&run) {
                Some(why) => self.notify(Level::Error, format!("{} refused: {why}", run.title)),
                None => {
                    self.mode = Mode::Preview(Preview {
                        run,
                        values,
                        typed: confirm::Typed::default(),
                        scroll: 0,
                    });
                }
            },
            Err(e) => self.notify(Level::Error, e.to_string()),
        }
        vec![]
    }

    pub(super) fn preview_deploy(&mut self) -> Vec<Effect> {
        if self.screen != Screen::Tenants {
            self.notify(Level::Info, "deploy works on a tenant: press 1 for Tenants");
            return vec![];
        }
        self.quick_preview("deploy")
    }

    pub(super) fn preview_restart(&mut self) -> Vec<Effect> {
        if self.screen != Screen::Containers {
            self.notify(
                Level::Info,
                "restart works on a container: press 3 for Containers",
            );
            return vec![];
        }
        self.quick_preview("restart")
    }

    pub(super) fn read_only(&self) -> bool {
        self.ctx.read_only || self.config.read_only
    }

    pub(super) fn ask(&mut self, c: ActionConfirm) -> Vec<Effect> {
        if self.read_only() {
            self.notify(
                Level::Error,
                format!("{} refused: read-only mode: changes are refused", c.title),
            );
        } else {
            self.mode = Mode::Confirm(c);
        }
        vec![]
    }

    pub(super) fn download_selected(&mut self) -> Vec<Effect> {
        if self.screen == Screen::Backups {
            return self.download_backup();
        }
        self.download_version()
    }

    pub(super) fn start_run(&mut self, run: RenderedRun) -> Vec<Effect> {
        // Guards are checked again at the moment of sending.
        if let Some(why) = self.run_refusal(&run) {
            self.notify(Level::Error, format!("{} refused: {why}", run.title));
            return vec![];
        }
        self.runs.seq += 1;
        let mut tag = format!("{:03}", self.runs.seq);
        if !self.runs.tag.is_empty() {
            tag = format!("{tag}-{}", self.runs.tag);
        }
        let id = crate::ops::RunId::new(self.now, &run.runbook, &tag).into_string();
        self.runs.rendered.insert(id.clone(), Box::new(run.clone()));
        self.runs.all.push(RunView {
            id: id.clone().into(),
            kind: RunKind::Runbook,
            title: run.title.clone(),
            runbook: run.runbook.clone(),
            host: run.host.clone(),
            production: run.production,
            started_at: self.now,
            finished_at: None,
            status: RunStatus::Starting,
            output: OutputBuffer::default(),
        });
        self.nav.pane.show(id.clone().into(), true);
        self.rebuild(Screen::Runs);
        // Esc goes back where the operator started it from.
        self.nav.back.clear();
        self.nav.back.push(if self.screen == Screen::RunOutput {
            Screen::Runs
        } else {
            self.screen
        });
        self.screen = Screen::RunOutput;
        vec![Effect::StartRun {
            id: id.into(),
            run: Box::new(run),
        }]
    }
}

/// A drill report in a popup: its Markdown read for a terminal — headings
/// as plain titles, check boxes as ✓ and ✗, tables as aligned columns, the
/// commands as they replay.
pub(super) fn drill_report_popup(r: &crate::drill::Report) -> Mode {
    Mode::Detail {
        title: format!("drill {}", r.id),
        fields: terminal_lines(&crate::drill::markdown(r))
            .into_iter()
            .map(|l| (String::new(), l))
            .collect(),
    }
}

/// Markdown as the console shows it (see [`drill_report_popup`]).
pub fn terminal_lines(md: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut table: Vec<Vec<String>> = Vec::new();
    let flush = |table: &mut Vec<Vec<String>>, out: &mut Vec<String>| {
        let cols = table.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..cols)
            .map(|c| {
                table
                    .iter()
                    .map(|r| r.get(c).map_or(0, |x| x.chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in table.drain(..) {
            let cells: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(c, x)| format!("{x:<w$}", w = widths[c]))
                .collect();
            out.push(format!("  {}", cells.join("  ").trim_end()));
        }
    };
    for line in md.lines() {
        if let Some(row) = line.strip_prefix('|') {
            // A separator row (|---|---|) carries nothing to show.
            if !row.chars().all(|c| matches!(c, '-' | '|' | ':' | ' ')) {
                table.push(
                    row.trim_end_matches('|')
                        .split(" | ")
                        .map(|c| c.trim().replace("\\|", "|"))
                        .collect(),
                );
            }
            continue;
        }
        if !table.is_empty() {
            flush(&mut table, &mut out);
        }
        let shown = if line.starts_with("```") {
            continue;
        } else if let Some(h) = line.strip_prefix("# ") {
            h.to_uppercase()
        } else if let Some(h) = line.strip_prefix("## ") {
            h.to_string()
        } else if let Some(rest) = line.strip_prefix("- [x] ") {
            format!("  ✓ {rest}")
        } else if let Some(rest) = line.strip_prefix("- [ ] ") {
            format!("  ✗ {rest}")
        } else if let Some(rest) = line.strip_prefix("- ") {
            format!("  • {rest}")
        } else if let Some(rest) = line.strip_prefix("> ") {
            format!("  {rest}")
        } else {
            line.to_string()
        };
        out.push(shown.replace("**", "").replace('`', ""));
    }
    if !table.is_empty() {
        flush(&mut table, &mut out);
    }
    out
}

impl RunView {
    pub(super) fn clone_summary(&self) -> (String, String, RunStatus) {
        (self.title.clone(), self.host.clone(), self.status.clone())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_report_reads_as_text_not_markdown() {
        let md = "# Drill: crash-loop — x\n\n**PASSED** · started a\n\n> the alarm\n\n- **RTO**: 1m\n\n## Checks\n\n- [x] up — yes\n- [ ] healthy — no\n\n| at | runbook | result |\n|---|---|---|\n| 10:00 | restart | ok \\| fine |\n| 10:01 | logs | - |\n\n```sh\nopsdeck run logs container=x\n```\n";
        let lines = super::terminal_lines(md);
        let text = lines.join("\n");
        assert!(text.starts_with("DRILL: CRASH-LOOP — X"), "{text}");
        assert!(
            text.contains("  ✓ up — yes") && text.contains("  ✗ healthy — no"),
            "{text}"
        );
        assert!(
            text.contains("PASSED · started a") && !text.contains("**"),
            "{text}"
        );
        assert!(text.contains("  at     runbook  result"), "{text}");
        assert!(text.contains("  10:00  restart  ok | fine"), "{text}");
        assert!(!text.contains("|---") && !text.contains("```"), "{text}");
        assert!(text.contains("opsdeck run logs container=x"), "{text}");
    }
}
