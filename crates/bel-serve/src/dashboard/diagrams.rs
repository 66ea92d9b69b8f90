//! `/diagrams`: the state diagrams bel_append enforces, drawn from `bel.transitions()`.
//!
//! Layout, deterministic: states go left to right in lifecycle order (the longest path from
//! "(none)" over the edges that are not back edges of a depth-first walk), stacked within a
//! column by their predecessors' rows. Edges between neighbouring columns are drawn straight
//! or stepped; longer forward edges drop from the bottom of their state and run along the
//! row of their target; back edges (FAILED -> REQUESTED) run below the whole diagram.
use std::collections::BTreeMap;

use axum::extract::{RawQuery, State};
use maud::{html, Markup};

use crate::api::params::Params;
use crate::dashboard::error::PageError;
use crate::dashboard::layout::{Page, Section};
use crate::dashboard::queries::{transitions, Transition};
use crate::dashboard::tone::Tone;
use crate::state::AppState;

const BOX_WIDTH: f64 = 172.0;
const BOX_HEIGHT: f64 = 36.0;
/// Space between columns (the arrows).
const GAP: f64 = 56.0;
const ROW: f64 = 64.0;
const MARGIN: f64 = 16.0;
/// The start marker ("(none)"): a dot of this radius.
const START_RADIUS: f64 = 9.0;
/// Space below the states per back edge.
const BACK_LANE: f64 = 14.0;

/// A state: `None` is "(none)", the entity before its first event.
type State_ = Option<String>;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub state: State_,
    pub column: usize,
    pub row: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub nodes: Vec<Node>,
    /// (from, to, is a back edge) as indexes into `nodes`.
    pub edges: Vec<(usize, usize, bool)>,
}

pub async fn show(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Markup, PageError> {
    Params::parse(query.as_deref(), &[])?;
    let all = transitions(state.db()).await?;
    let mut entities: Vec<&str> = Vec::new();
    for t in &all {
        if !entities.contains(&t.entity.as_str()) {
            entities.push(&t.entity);
        }
    }
    Ok(Page::new("State diagrams", Section::Diagrams).render(html! {
        h1 { "State diagrams" }
        p.muted { "Every transition " code { "bel_append" } " accepts, from " code { "bel.transitions()" }
            ". Any other event is refused with SQLSTATE 55000. A dot is “(none)”: the entity does not exist yet; "
            "a double border marks a final state." }
        @for entity in entities {
            @let edges: Vec<&Transition> = all.iter().filter(|t| t.entity == entity).collect();
            section.card.diagram data-entity=(entity) {
                h2 { (title(entity)) }
                (render(entity, &layout(&edges)))
                details {
                    summary { (edges.len()) " transitions and their conditions" }
                    table.grid.compact {
                        thead { tr { th { "From" } th { "To" } th { "Condition" } } }
                        tbody { @for t in &edges { tr {
                            td.nowrap { @match &t.from { Some(from) => { (from) } None => { span.muted { "(none)" } } } }
                            td.nowrap { (t.to) }
                            td { @match &t.condition { Some(condition) => { (condition) } None => { span.muted { "—" } } } }
                        } } }
                    }
                }
            }
        }
    }))
}

fn title(entity: &str) -> String {
    let spaced = entity.replace('_', " ");
    let mut chars = spaced.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Places the states of one entity's diagram.
pub fn layout(transitions: &[&Transition]) -> Layout {
    // States in order of first appearance, "(none)" first.
    let mut states: Vec<State_> = vec![None];
    for t in transitions {
        for state in [t.from.clone(), Some(t.to.clone())] {
            if !states.contains(&state) {
                states.push(state);
            }
        }
    }
    let index = |state: &State_| states.iter().position(|s| s == state).unwrap_or(0);
    let pairs: Vec<(usize, usize)> = transitions.iter().map(|t| (index(&t.from), index(&Some(t.to.clone())))).collect();
    let back = back_edges(states.len(), &pairs);
    let forward: Vec<(usize, usize)> =
        pairs.iter().zip(&back).filter(|(_, is_back)| !**is_back).map(|(pair, _)| *pair).collect();

    // Longest path from any source over the forward edges (a DAG): relax |V| times.
    let mut column = vec![0usize; states.len()];
    for _ in 0..states.len() {
        for &(from, to) in &forward {
            column[to] = column[to].max(column[from] + 1);
        }
    }
    // Rows: column by column, by the mean row of forward predecessors, then by fewer
    // incoming edges (the main line before the states many lead to), then by appearance.
    let mut row = vec![0usize; states.len()];
    let columns = column.iter().max().copied().unwrap_or(0);
    for c in 0..=columns {
        let mut members: Vec<usize> = (0..states.len()).filter(|s| column[*s] == c).collect();
        let key = |s: usize| {
            let preds: Vec<f64> =
                forward.iter().filter(|(_, to)| *to == s).map(|(from, _)| row[*from] as f64).collect();
            let mean = if preds.is_empty() { 0.0 } else { preds.iter().sum::<f64>() / preds.len() as f64 };
            (mean, preds.len(), s)
        };
        members.sort_by(|a, b| {
            let (ka, kb) = (key(*a), key(*b));
            ka.0.total_cmp(&kb.0).then(ka.1.cmp(&kb.1)).then(ka.2.cmp(&kb.2))
        });
        for (r, s) in members.into_iter().enumerate() {
            row[s] = r;
        }
    }
    let nodes =
        states.into_iter().enumerate().map(|(i, state)| Node { state, column: column[i], row: row[i] }).collect();
    let edges = pairs.into_iter().zip(back).map(|((from, to), is_back)| (from, to, is_back)).collect();
    Layout { nodes, edges }
}

/// Which edges close a cycle: those reaching a state still on the stack of a depth-first
/// walk that starts at "(none)" and follows edges in their order.
fn back_edges(states: usize, edges: &[(usize, usize)]) -> Vec<bool> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnStack,
        Done,
    }
    fn visit(s: usize, edges: &[(usize, usize)], marks: &mut [Mark], back: &mut [bool]) {
        marks[s] = Mark::OnStack;
        for (i, &(from, to)) in edges.iter().enumerate() {
            if from != s {
                continue;
            }
            match marks[to] {
                Mark::OnStack => back[i] = true,
                Mark::New => visit(to, edges, marks, back),
                Mark::Done => {}
            }
        }
        marks[s] = Mark::Done;
    }
    let mut marks = vec![Mark::New; states];
    let mut back = vec![false; edges.len()];
    for s in 0..states {
        if marks[s] == Mark::New {
            visit(s, edges, &mut marks, &mut back);
        }
    }
    back
}

/// Where the columns are: a column holding only "(none)" is as narrow as its dot.
struct Columns {
    left: Vec<f64>,
    width: Vec<f64>,
}

impl Columns {
    fn of(layout: &Layout) -> Columns {
        let count = layout.nodes.iter().map(|n| n.column).max().unwrap_or(0) + 1;
        let mut width = vec![2.0 * START_RADIUS; count];
        for node in layout.nodes.iter().filter(|n| n.state.is_some()) {
            width[node.column] = BOX_WIDTH;
        }
        let mut left = Vec::with_capacity(count);
        let mut x = MARGIN;
        for w in &width {
            left.push(x);
            x += w + GAP;
        }
        Columns { left, width }
    }

    fn right(&self) -> f64 {
        self.left.last().copied().unwrap_or(MARGIN) + self.width.last().copied().unwrap_or(0.0)
    }

    /// A state's box: left, top, width, height ("(none)": the dot's bounding square).
    fn frame(&self, node: &Node) -> (f64, f64, f64, f64) {
        let (left, top) = (self.left[node.column], MARGIN + node.row as f64 * ROW);
        match node.state {
            None => (
                left + self.width[node.column] - 2.0 * START_RADIUS,
                top + BOX_HEIGHT / 2.0 - START_RADIUS,
                2.0 * START_RADIUS,
                2.0 * START_RADIUS,
            ),
            Some(_) => (left, top, BOX_WIDTH, BOX_HEIGHT),
        }
    }
}

fn px(value: f64) -> String {
    format!("{value:.1}")
}

/// The SVG path of an edge.
fn path(columns: &Columns, from: &Node, to: &Node, back_lane: Option<f64>) -> String {
    let (fl, ft, fw, fh) = columns.frame(from);
    let (tl, tt, tw, th) = columns.frame(to);
    let (from_mid, to_mid) = (ft + fh / 2.0, tt + th / 2.0);
    if let Some(lane) = back_lane {
        // Below everything, entering the target from underneath (right of its centre, so it
        // does not meet the forward edges leaving from the centre).
        let (x1, x2) = (fl + fw / 2.0 + 14.0, tl + tw / 2.0 + 14.0);
        return format!("M{} {} V{} H{} V{}", px(x1), px(ft + fh), px(lane), px(x2), px(tt + th));
    }
    if to.column == from.column + 1 {
        let (x1, x2) = (fl + fw, tl);
        if (from_mid - to_mid).abs() < 0.5 {
            return format!("M{} {} H{}", px(x1), px(from_mid), px(x2));
        }
        let bend = x1 + (x2 - x1) / 2.0;
        return format!("M{} {} H{} V{} H{}", px(x1), px(from_mid), px(bend), px(to_mid), px(x2));
    }
    // Over several columns: down from the bottom, along the gap under the source's row to
    // just before the target, then into its left side.
    let x1 = fl + fw / 2.0;
    let gap = ft + fh + (ROW - BOX_HEIGHT) / 2.0;
    if to.row > from.row {
        format!("M{} {} V{} H{}", px(x1), px(ft + fh), px(to_mid), px(tl))
    } else {
        format!("M{} {} V{} H{} V{} H{}", px(x1), px(ft + fh), px(gap), px(tl - 18.0), px(to_mid), px(tl))
    }
}

pub fn render(entity: &str, layout: &Layout) -> Markup {
    let columns = Columns::of(layout);
    let rows = layout.nodes.iter().map(|n| n.row).max().unwrap_or(0) + 1;
    let backs = layout.edges.iter().filter(|e| e.2).count();
    let states_bottom = MARGIN + (rows - 1) as f64 * ROW + BOX_HEIGHT;
    let width = columns.right() + MARGIN;
    let height = states_bottom + backs as f64 * BACK_LANE + MARGIN + 6.0;
    let marker: String = entity.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let marker = format!("arrow-{marker}");
    let has_exit: Vec<bool> =
        (0..layout.nodes.len()).map(|i| layout.edges.iter().any(|(from, _, _)| *from == i)).collect();
    let mut back_index = 0;
    let paths: BTreeMap<usize, (String, bool)> = layout
        .edges
        .iter()
        .enumerate()
        .map(|(i, (from, to, is_back))| {
            let lane = is_back.then(|| {
                back_index += 1;
                states_bottom + back_index as f64 * BACK_LANE
            });
            (i, (path(&columns, &layout.nodes[*from], &layout.nodes[*to], lane), *is_back))
        })
        .collect();
    html! {
        // Drawn at its natural size (every diagram at the same scale), narrowed on small screens.
        svg.state-diagram width=(px(width)) height=(px(height)) viewBox={ "0 0 " (px(width)) " " (px(height)) } role="img"
            aria-label={ (title(entity)) " state diagram" } {
            defs {
                marker id=(marker) viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7"
                    orient="auto-start-reverse" {
                    path.arrowhead d="M0 0 L10 5 L0 10 z" {}
                }
            }
            @for (path, is_back) in paths.values() {
                path class={ "edge" @if *is_back { " back" } } d=(path) marker-end={ "url(#" (marker) ")" } {}
            }
            @for (i, node) in layout.nodes.iter().enumerate() {
                @let (left, top, w, h) = columns.frame(node);
                @match &node.state {
                    None => {
                        g.start {
                            title { "(none): the entity does not exist yet" }
                            circle cx=(px(left + w / 2.0)) cy=(px(top + h / 2.0)) r=(START_RADIUS) {}
                            text.caption x=(px(left + w / 2.0)) y=(px(top + h + 14.0)) text-anchor="middle" { "(none)" }
                        }
                    }
                    Some(state) => {
                        g class={ "state " (Tone::of(state).class()) } data-state=(state) {
                            rect x=(px(left)) y=(px(top)) width=(px(w)) height=(px(h)) rx="7" {}
                            @if !has_exit[i] {
                                rect.final x=(px(left + 3.0)) y=(px(top + 3.0)) width=(px(w - 6.0)) height=(px(h - 6.0)) rx="5" {}
                            }
                            text x=(px(left + w / 2.0)) y=(px(top + h / 2.0 + 4.5)) text-anchor="middle" { (state) }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edges(entity: &str) -> Vec<Transition> {
        bel_core::diagram::all_transitions()
            .into_iter()
            .filter(|row| row.entity == entity)
            .map(|row| Transition {
                entity: row.entity.to_owned(),
                from: row.from_state.map(str::to_owned),
                to: row.to_state.to_owned(),
                condition: row.condition.map(str::to_owned),
            })
            .collect()
    }

    fn place(entity: &str) -> BTreeMap<String, (usize, usize)> {
        let owned = edges(entity);
        let refs: Vec<&Transition> = owned.iter().collect();
        layout(&refs)
            .nodes
            .into_iter()
            .map(|n| (n.state.unwrap_or_else(|| "(none)".into()), (n.column, n.row)))
            .collect()
    }

    #[test]
    fn the_main_line_runs_left_to_right_on_the_top_row() {
        let partition = place("partition");
        let main = ["(none)", "REQUESTED", "ANALYZED", "BUILDING", "AVAILABLE", "INVALIDATED"];
        for (column, state) in main.iter().enumerate() {
            assert_eq!(partition[*state], (column, 0), "{state}: {partition:?}");
        }
        assert_eq!(partition["FAILED"], (4, 1), "{partition:?}");
        let build = place("build_request");
        assert_eq!(build["COMPLETED"], (5, 0), "{build:?}");
        assert_eq!((build["FAILED"], build["CANCELLED"]), ((5, 1), (5, 2)), "{build:?}");
        let job = place("job_run");
        assert_eq!((job["RUNNING"], job["SKIPPED"]), ((2, 0), (2, 1)), "{job:?}");
        assert_eq!(job["COMPLETED"], (3, 0), "{job:?}");
    }

    #[test]
    fn cycles_are_broken_at_their_back_edges() {
        let owned = edges("partition");
        let refs: Vec<&Transition> = owned.iter().collect();
        let layout = layout(&refs);
        let name = |i: usize| layout.nodes[i].state.clone().unwrap_or_default();
        let mut back: Vec<(String, String)> =
            layout.edges.iter().filter(|e| e.2).map(|(from, to, _)| (name(*from), name(*to))).collect();
        back.sort();
        assert_eq!(back, vec![("FAILED".into(), "REQUESTED".into()), ("INVALIDATED".into(), "REQUESTED".into())]);
        let svg = render("partition", &layout).into_string();
        assert_eq!(svg.matches("class=\"edge").count(), owned.len(), "one path per transition");
        assert_eq!(svg.matches("class=\"edge back\"").count(), 2);
        assert_eq!(svg.matches("rect class=\"final\"").count(), 0, "every partition state has a way out");
        let job: Vec<Transition> = edges("job_run");
        let svg = render("job_run", &super::layout(&job.iter().collect::<Vec<_>>())).into_string();
        assert_eq!(svg.matches("rect class=\"final\"").count(), 4, "COMPLETED, FAILED, CANCELLED, SKIPPED");
    }
}
