//! Runbooks in the console: pick one for the selected row, fill its typed
//! parameters in a form (a multi-line editor for text), then the preview
//! and its guards. No IO: the rendered run goes out as an effect.

use super::{App, Effect, Level, Mode, Preview, Screen};
use crate::runbook::spec::{ParamType, TargetKind};
use crate::runbook::{self, Choices, RenderedRun, Target, params};
use ratatui_textarea::TextArea;
use std::collections::BTreeMap;

/// One runbook offered by the picker, with the target it would run on.
pub type PickerEntry = (String, String, runbook::Danger, Target);

/// Choosing a runbook for a target.
pub struct Picker {
    pub target: Target,
    /// The marked instances the runbook will run on as one fleet (the
    /// target is then only the first of them).
    pub fleet: Option<super::fleet::FleetSelection>,
    pub names: Vec<PickerEntry>,
    pub filter: String,
    pub selected: usize,
}

impl Picker {
    /// Names (and titles) that contain every word of the filter.
    pub fn visible(&self) -> Vec<&PickerEntry> {
        let words: Vec<String> = self
            .filter
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        self.names
            .iter()
            .filter(|(n, d, _, _)| {
                let hay = format!("{n} {d}").to_lowercase();
                words.iter().all(|w| hay.contains(w))
            })
            .collect()
    }
}

pub struct Field {
    pub name: String,
    pub kind: ParamType,
    pub help: String,
    pub value: String,
    pub options: Vec<String>,
    /// What an option is, in words, where the inventory knows (a
    /// revision: short SHA, subject, when it was deployed).
    pub labels: BTreeMap<String, String>,
    pub error: Option<String>,
    /// Where typing goes in a one-line value (characters from the start).
    pub cursor: usize,
}

/// Most characters one paste puts into a form (the longest text
/// parameter takes 64 KiB).
pub(super) const MAX_PASTE: usize = 64 * 1024;

/// A runbook's parameters being filled in.
pub struct Form {
    pub runbook: String,
    pub title: String,
    pub target: Target,
    pub fields: Vec<Field>,
    pub focus: usize,
    /// Open while a text parameter is edited (Esc closes it).
    pub editor: Option<TextArea<'static>>,
    /// Text was typed or pasted (Esc then asks before discarding it).
    pub dirty: bool,
    /// Esc was pressed on a changed form: `y` discards it, any other key keeps it.
    pub discard_asked: bool,
    /// Filled once for a fleet run on these instances (else for `target`).
    pub fleet: Option<Box<super::fleet::FleetSelection>>,
}

impl App {
    /// The target the selected row stands for, on the current screen.
    pub fn selection_target(&self) -> Option<Target> {
        let key = self.selected_key()?;
        self.screen.view().target(self, &key)
    }

    /// Everything the selected row can be a target as: a backup is also its
    /// database (back up now), a tenant also its database.
    pub fn selection_targets(&self) -> Vec<Target> {
        match self.selection_target() {
            Some(first) => self.estate.inv.related_targets(&first),
            None => vec![],
        }
    }

    /// What `choice` parameters can offer for `target`, from what is loaded.
    pub fn choices_for(&self, target: &Target) -> Choices {
        self.estate.inv.choices(target)
    }

    /// The one way a run is prepared (the CLI's too): [`crate::ops::prepare_run`].
    pub fn prepare(
        &self,
        name: &str,
        target: &Target,
        values: &BTreeMap<String, String>,
    ) -> Result<RenderedRun, crate::ops::PrepareError> {
        let cx = crate::ops::Context {
            config: &self.config,
            library: &self.library,
            production: self.ctx.production,
        };
        crate::ops::prepare_run(cx, &self.estate.inv, name, target, values)
    }

    /// `d`, `R`: straight to the preview with default parameters.
    pub(super) fn quick_preview(&mut self, name: &str) -> Vec<Effect> {
        let Some(target) = self.selection_target() else {
            return vec![];
        };
        let run = self.prepare(name, &target, &BTreeMap::new());
        self.open_preview(run, BTreeMap::new())
    }

    /// `r`: the runbooks that run on the selected row.
    pub(super) fn open_picker(&mut self) -> Vec<Effect> {
        let targets = self.selection_targets();
        let Some(target) = targets.first().cloned() else {
            self.notify(
                Level::Info,
                "runbooks run on a tenant, instance, container or backup: select one first",
            );
            return vec![];
        };
        let fleet = self.marked_fleet(&target);
        // A fleet's titles name it, not its first instance.
        let fleet_name = fleet
            .as_ref()
            .map(|f| format!("{} marked instances", f.ids.len()));
        let names: Vec<PickerEntry> = targets
            .iter()
            .flat_map(|t| {
                let vars: Vec<(String, String)> = match &fleet_name {
                    Some(n) => t
                        .vars
                        .iter()
                        .map(|(k, v)| {
                            let v = if k == "instance" { n } else { v };
                            (k.clone(), v.clone())
                        })
                        .collect(),
                    None => t.vars.clone(),
                };
                let from_backups = self.screen == Screen::Backups && t.kind == TargetKind::Instance;
                self.library
                    .for_target(t.kind)
                    .into_iter()
                    // On Backups, the host's runbooks about backups (sync to S3).
                    .filter(move |s| !from_backups || s.name().contains("backup"))
                    .map(move |s| {
                        (
                            s.name().to_string(),
                            fill_title(&s.title, &vars),
                            s.danger,
                            t.clone(),
                        )
                    })
            })
            .collect();
        // Safe first: what only reads (validate a backup) before what
        // changes, destructive last.
        let mut names = names;
        names.sort_by_key(|(_, _, danger, _)| *danger);
        if names.is_empty() {
            self.notify(
                Level::Info,
                format!("no runbook runs on a {}", target.kind.label()),
            );
            return vec![];
        }
        self.mode = Mode::Picker(Picker {
            target,
            fleet,
            names,
            filter: String::new(),
            selected: 0,
        });
        vec![]
    }

    /// The parameter form for `name` on `target`, prefilled with `values`.
    pub fn open_form(
        &mut self,
        name: &str,
        target: Target,
        values: &BTreeMap<String, String>,
    ) -> Vec<Effect> {
        let fleet = self.fleet_selection(&target);
        let library = self.library.clone();
        let Some(spec) = library.get(name) else {
            self.notify(Level::Error, format!("no runbook named {name}"));
            return vec![];
        };
        // Refused when chosen, before any value is filled in.
        if spec.target != target.kind {
            self.notify(
                Level::Error,
                format!(
                    "{name} runs on a {}, not on {} {}: {}",
                    spec.target.label(),
                    target.kind.label(),
                    target.label,
                    match spec.target {
                        TargetKind::Tenant => "press 1 for Tenants",
                        TargetKind::Instance => "press 2 for Instances",
                        TargetKind::Container => "press 3 for Containers",
                        TargetKind::Backup | TargetKind::Database => "press 5 for Backups",
                    }
                ),
            );
            return vec![];
        }
        // A fleet's targets are guarded one by one after the form.
        if fleet.is_none()
            && let Err(why) = crate::ops::admit(
                name,
                spec.danger,
                &target.host,
                spec.needs_target_host(),
                self.read_only(),
                &self.estate.instances.data,
            )
        {
            self.notify(Level::Error, format!("{name} refused: {why}"));
            return vec![];
        }
        let choices = self.choices_for(&target);
        let values = runbook::with_config_defaults(&self.config, spec, &target, values);
        let fields = spec
            .params
            .iter()
            .map(|p| {
                let value = values
                    .get(p.name())
                    .cloned()
                    .or_else(|| p.default_text())
                    .unwrap_or_default();
                let options = match p.kind {
                    ParamType::Bool => vec!["true".into(), "false".into()],
                    _ => params::offered(p, &choices),
                };
                let labels = options
                    .iter()
                    .filter_map(|o| choices.label(o).map(|l| (o.clone(), l.to_string())))
                    .collect();
                let mut f = Field {
                    name: p.name().to_string(),
                    kind: p.kind,
                    help: p.help.clone(),
                    value,
                    options,
                    labels,
                    error: None,
                    cursor: 0,
                };
                f.cursor = f.value.chars().count();
                f.error = params::validate(p, &f.value, &choices).err().map(|e| e.0);
                f
            })
            .collect();
        let title = fill_title(&spec.title, &target.vars);
        self.mode = Mode::Form(Form {
            runbook: name.to_string(),
            title,
            target,
            fields,
            focus: 0,
            editor: None,
            dirty: false,
            discard_asked: false,
            fleet: fleet.map(Box::new),
        });
        vec![]
    }

    /// Tab in the preview: back to the form with the same values.
    pub(super) fn edit_preview(&mut self, p: Preview) -> Vec<Effect> {
        let target = p.run.target.clone();
        self.open_form(&p.run.runbook, target, &p.values)
    }
}

/// A runbook title with the target's variables filled in; parameters not
/// chosen yet show as `…`.
pub fn fill_title(title: &str, vars: &[(String, String)]) -> String {
    let mut t = title.to_string();
    for (k, v) in vars {
        // A backup reads better by its file name than by its path.
        let v = if k == "backup" {
            v.rsplit('/').next().unwrap_or(v)
        } else {
            v
        };
        t = t.replace(&format!("{{{k}}}"), v);
    }
    let mut out = String::new();
    let mut rest = t.as_str();
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        match rest[i..].find('}') {
            Some(j) => {
                out.push('…');
                rest = &rest[i + j + 1..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The multi-line editor, holding `text` with the cursor at its end.
pub(super) fn editor_for(text: &str) -> TextArea<'static> {
    let lines: Vec<String> = if text.is_empty() {
        vec![String::new()]
    } else {
        text.lines().map(String::from).collect()
    };
    let mut ed = TextArea::new(lines);
    ed.set_cursor_line_style(ratatui::style::Style::default());
    ed.move_cursor(ratatui_textarea::CursorMove::Bottom);
    ed.move_cursor(ratatui_textarea::CursorMove::End);
    ed
}

/// Which kinds of rows have runbooks (for help texts).
pub fn target_screens() -> [(Screen, TargetKind); 5] {
    [
        (Screen::Tenants, TargetKind::Tenant),
        (Screen::Instances, TargetKind::Instance),
        (Screen::Containers, TargetKind::Container),
        (Screen::Backups, TargetKind::Backup),
        (Screen::Backups, TargetKind::Database),
    ]
}
