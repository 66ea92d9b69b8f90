//! The timeline picture of a build (SVG): lanes of bars (job runs, from their first to their
//! last event) and marks (status changes) over a time axis.
use chrono::{DateTime, TimeZone, Utc};
use maud::{html, Markup};

use crate::dashboard::format;
use crate::dashboard::tone::Tone;

/// A labelled group of lanes ("Job runs", "Partitions").
pub struct Group {
    pub title: &'static str,
    pub lanes: Vec<Lane>,
}

pub struct Lane {
    pub label: String,
    /// A link for the label (a job run's row, a partition's page).
    pub href: Option<String>,
    pub items: Vec<Item>,
}

pub enum Item {
    /// From `from` to `to`, coloured by `status`; the part before `started` (a job run
    /// waiting to run) is drawn faint.
    Bar { from: DateTime<Utc>, started: Option<DateTime<Utc>>, to: DateTime<Utc>, status: String, title: String },
    /// A status change at `at`.
    Mark { at: DateTime<Utc>, status: String, title: String },
}

impl Item {
    fn times(&self) -> [DateTime<Utc>; 2] {
        match self {
            Item::Bar { from, to, .. } => [*from, *to],
            Item::Mark { at, .. } => [*at, *at],
        }
    }
}

const WIDTH: f64 = 1120.0;
const LABEL_WIDTH: f64 = 250.0;
const PLOT_LEFT: f64 = 262.0;
const PLOT_RIGHT: f64 = 1100.0;
const AXIS_HEIGHT: f64 = 26.0;
const GROUP_HEIGHT: f64 = 24.0;
const LANE_HEIGHT: f64 = 22.0;
/// Characters of a lane label shown before it is cut (the whole label is its tooltip).
const LABEL_CHARS: usize = 36;
/// Tick steps in seconds, smallest first; the first giving at most MAX_TICKS ticks is used.
const TICK_STEPS: [i64; 17] = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21_600, 43_200, 86_400];
const MAX_TICKS: i64 = 8;

/// Everything the picture spans: the earliest and latest time of any item.
pub fn span(groups: &[Group]) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let times = groups.iter().flat_map(|g| &g.lanes).flat_map(|l| &l.items).flat_map(Item::times);
    times.fold(None, |span, t| match span {
        None => Some((t, t)),
        Some((from, to)) => Some((from.min(t), to.max(t))),
    })
}

struct Scale {
    from: DateTime<Utc>,
    seconds: f64,
}

impl Scale {
    fn x(&self, at: &DateTime<Utc>) -> f64 {
        PLOT_LEFT + format::seconds_between(&self.from, at) / self.seconds * (PLOT_RIGHT - PLOT_LEFT)
    }
}

fn cut(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARS {
        label.to_owned()
    } else {
        let kept: String = label.chars().take(LABEL_CHARS - 1).collect();
        format!("{kept}…")
    }
}

fn px(value: f64) -> String {
    format!("{value:.1}")
}

/// Tick times (whole multiples of the step) and their labels.
fn ticks(from: &DateTime<Utc>, to: &DateTime<Utc>) -> Vec<(DateTime<Utc>, String)> {
    let seconds = format::seconds_between(from, to).max(1.0);
    let step = TICK_STEPS.iter().copied().find(|step| seconds / *step as f64 <= MAX_TICKS as f64).unwrap_or(86_400);
    let label = |at: &DateTime<Utc>| {
        if seconds >= 86_400.0 {
            at.format("%m-%d %H:%M").to_string()
        } else if step >= 60 {
            at.format("%H:%M").to_string()
        } else {
            at.format("%H:%M:%S").to_string()
        }
    };
    let first = (from.timestamp() + step - 1).div_euclid(step) * step;
    (0..)
        .map(|i| first + i * step)
        .take_while(|t| *t <= to.timestamp())
        .filter_map(|t| Utc.timestamp_opt(t, 0).single())
        .map(|at| {
            let text = label(&at);
            (at, text)
        })
        .collect()
}

pub fn render(groups: &[Group]) -> Markup {
    let Some((from, to)) = span(groups) else {
        return html! { p.empty { "Nothing to draw yet." } };
    };
    // At least a second, so a build whose events share one timestamp still has an axis.
    let seconds = format::seconds_between(&from, &to).max(1.0);
    let scale = Scale { from, seconds };
    let lanes: usize = groups.iter().map(|g| g.lanes.len()).sum();
    let height = AXIS_HEIGHT + groups.len() as f64 * GROUP_HEIGHT + lanes as f64 * LANE_HEIGHT + 8.0;
    let ticks = ticks(&from, &to);
    let mut y = AXIS_HEIGHT;
    let mut rows: Vec<(f64, Option<&Group>, Option<&Lane>)> = Vec::new();
    for group in groups {
        rows.push((y, Some(group), None));
        y += GROUP_HEIGHT;
        for lane in &group.lanes {
            rows.push((y, None, Some(lane)));
            y += LANE_HEIGHT;
        }
    }
    html! {
        svg.timeline viewBox={ "0 0 " (WIDTH) " " (px(height)) } role="img"
            aria-label={ "timeline from " (format::time(&from)) " to " (format::time(&to)) " UTC" } {
            @for (at, label) in &ticks {
                @let x = scale.x(at);
                line.grid x1=(px(x)) x2=(px(x)) y1=(px(AXIS_HEIGHT - 6.0)) y2=(px(height - 4.0)) {}
                text.axis x=(px(x)) y="14" text-anchor="middle" { (label) }
            }
            @for (y, group, lane) in &rows {
                @if let Some(group) = group {
                    text.group x="4" y=(px(y + 16.0)) { (group.title) }
                    line.rule x1="0" x2=(WIDTH) y1=(px(y + 22.0)) y2=(px(y + 22.0)) {}
                }
                @if let Some(lane) = lane {
                    @let middle = y + LANE_HEIGHT / 2.0;
                    @let label = html! { text.label x=(LABEL_WIDTH) y=(px(middle + 4.0)) text-anchor="end" {
                        title { (lane.label) } (cut(&lane.label)) } };
                    @match &lane.href {
                        Some(href) => a href=(href) { (label) },
                        None => (label),
                    }
                    line.lane x1=(PLOT_LEFT) x2=(PLOT_RIGHT) y1=(px(middle)) y2=(px(middle)) {}
                    @for item in &lane.items {
                        (draw(item, &scale, middle))
                    }
                }
            }
        }
    }
}

fn draw(item: &Item, scale: &Scale, middle: f64) -> Markup {
    match item {
        Item::Bar { from, started, to, status, title } => {
            let tone = Tone::of(status).class();
            let (left, right) = (scale.x(from), scale.x(to).max(scale.x(from) + 4.0));
            let running_from = started.as_ref().map_or(left, |s| scale.x(s).clamp(left, right));
            html! {
                g.bar {
                    title { (title) }
                    @if running_from > left {
                        rect class={ "waiting " (tone) } x=(px(left)) y=(px(middle - 6.0))
                            width=(px(running_from - left)) height="12" rx="3" {}
                    }
                    rect class=(tone) x=(px(running_from)) y=(px(middle - 6.0))
                        width=(px((right - running_from).max(4.0))) height="12" rx="3" {}
                }
            }
        }
        Item::Mark { at, status, title } => html! {
            circle class={ "mark " (Tone::of(status).class()) } cx=(px(scale.x(at))) cy=(px(middle)) r="5" {
                title { (title) }
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_793_000_000 + seconds, 0).single().unwrap()
    }

    #[test]
    fn ticks_are_round_and_few() {
        let t = ticks(&at(0), &at(600));
        assert!(t.len() as i64 <= MAX_TICKS && t.len() >= 4, "{t:?}");
        assert!(t.iter().all(|(time, _)| time.timestamp() % 120 == 0));
        assert_eq!(ticks(&at(0), &at(5)).len(), 6, "seconds for a short build");
        assert!(ticks(&at(0), &at(3 * 86_400)).iter().all(|(_, label)| label.contains('-')));
    }

    #[test]
    fn bars_and_marks_land_on_the_axis() {
        let groups = vec![Group {
            title: "Job runs",
            lanes: vec![Lane {
                label: "etl/users <jr-1>".into(),
                href: Some("/builds/b#run-jr-1".into()),
                items: vec![
                    Item::Bar {
                        from: at(0),
                        started: Some(at(10)),
                        to: at(100),
                        status: "FAILED".into(),
                        title: "jr-1".into(),
                    },
                    Item::Mark { at: at(100), status: "FAILED".into(), title: "failed".into() },
                ],
            }],
        }];
        assert_eq!(span(&groups), Some((at(0), at(100))));
        let svg = render(&groups).into_string();
        assert!(svg.contains(r#"class="waiting tone-failed" x="262.0""#), "{svg}");
        assert!(
            svg.contains(r#"<circle class="mark tone-failed" cx="1100.0""#),
            "the last mark at the right edge: {svg}"
        );
        assert!(svg.contains("etl/users &lt;jr-1&gt;"), "labels are escaped: {svg}");
        assert_eq!(render(&[]).into_string(), r#"<p class="empty">Nothing to draw yet.</p>"#);
    }
}
