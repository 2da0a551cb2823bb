//! Hand-written SVG line charts for the audit report: axes, ticks, labels, a legend, and a
//! `<title>` on every point with its exact value.
//!
//! Every coordinate is an integer computed with `i128` arithmetic and integer division, so
//! the same series give the same bytes on any machine, and no amount passes through
//! floating point. The SVG carries no `xmlns` (the HTML parser puts inline `<svg>` into the
//! SVG namespace), no script, no link and no external reference: the page stays
//! self-contained.

use std::fmt::Write as _;

use pbr_core::money::Currency;

use super::format_minor;
use crate::xlsx::escape;

/// The chart's width in pixels (the page scales it down to fit).
const WIDTH: i128 = 760;
/// Room for the y-axis labels, left of the plot.
const LEFT: i128 = 112;
/// Room right of the plot, for the last x label.
const RIGHT: i128 = 28;
/// Room above the plot, for the top tick label.
const TOP: i128 = 14;
/// The plot's height.
const PLOT_HEIGHT: i128 = 240;
/// Room below the plot for the period labels.
const X_LABELS: i128 = 34;
/// The height of one legend entry.
const LEGEND_ROW: i128 = 20;
/// At most this many intervals between y ticks.
const MAX_INTERVALS: i128 = 6;
/// The least room, in pixels, between two period labels.
const LABEL_SPACING: i128 = 72;

/// Line colours, told apart by people with any colour vision (Okabe and Ito), darkened
/// where white paper needs it.
const PALETTE: [&str; 8] = [
    "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#b07800", "#3a8fc4", "#000000", "#7f7f7f",
];

/// What the values count.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Unit {
    /// Minor units of a currency, shown in major units with its decimals.
    Money(Currency),
    /// A number of things.
    Count,
}

impl Unit {
    fn format(self, value: i128) -> String {
        match self {
            Unit::Money(currency) => format_minor(value, currency),
            Unit::Count => super::group_thousands(value),
        }
    }

    /// The smallest tick interval: one major unit of money, one thing.
    fn least_step(self) -> i128 {
        match self {
            Unit::Money(currency) => 10i128.pow(currency.minor_digits()),
            Unit::Count => 1,
        }
    }
}

/// One line of a chart.
#[derive(Clone, Debug)]
pub(crate) struct Line<'a> {
    /// The legend's text.
    pub(crate) label: String,
    /// One value per period.
    pub(crate) values: &'a [i64],
    /// Dashed, for a second kind of series beside solid ones.
    pub(crate) dashed: bool,
    /// The index into the palette.
    pub(crate) colour: usize,
}

/// A line chart over periods.
#[derive(Clone, Debug)]
pub(crate) struct Chart<'a> {
    /// The element id, unique in the page.
    pub(crate) id: &'a str,
    /// What the chart shows, as its accessible name.
    pub(crate) title: &'a str,
    /// What the values count.
    pub(crate) unit: Unit,
    /// The x-axis labels, one per value.
    pub(crate) periods: &'a [String],
    /// The lines.
    pub(crate) lines: Vec<Line<'a>>,
}

/// `a / b` rounded down, for `b > 0`.
fn floor_div(a: i128, b: i128) -> i128 {
    a.div_euclid(b)
}

/// `a / b` rounded up, for `b > 0`.
fn ceil_div(a: i128, b: i128) -> i128 {
    -(-a).div_euclid(b)
}

/// The y axis: the least "nice" interval (1, 2 or 5 times a power of ten of the unit's
/// least step) that covers `low..=high` in at most [`MAX_INTERVALS`] intervals, and the axis
/// bounds on multiples of it.
fn y_axis(low: i128, high: i128, least_step: i128) -> (i128, i128, i128) {
    let mut magnitude = least_step;
    let step = loop {
        let fits = [1, 2, 5]
            .into_iter()
            .map(|m| m * magnitude)
            .find(|&step| ceil_div(high, step) - floor_div(low, step) <= MAX_INTERVALS);
        if let Some(step) = fits {
            break step;
        }
        magnitude *= 10;
    };
    let bottom = floor_div(low, step) * step;
    let top = ceil_div(high, step) * step;
    // A flat series (all zeros) still gets one interval.
    let top = if top == bottom { bottom + step } else { top };
    (bottom, top, step)
}

impl Chart<'_> {
    /// The chart as an `<svg>` element.
    pub(crate) fn render(&self) -> String {
        let n = i128::try_from(self.periods.len()).unwrap_or(i128::MAX);
        let plot_width = WIDTH - LEFT - RIGHT;
        let legend_rows = i128::try_from(self.lines.len()).unwrap_or(0);
        let height = TOP + PLOT_HEIGHT + X_LABELS + legend_rows * LEGEND_ROW + 6;
        let values = self.lines.iter().flat_map(|l| l.values.iter().copied());
        let low = values.clone().min().map_or(0, i128::from).min(0);
        let high = values.max().map_or(0, i128::from).max(0);
        let (bottom, top, step) = y_axis(low, high, self.unit.least_step());
        let y = |value: i128| TOP + (top - value) * PLOT_HEIGHT / (top - bottom);
        let x = |i: i128| {
            if n <= 1 {
                LEFT + plot_width / 2
            } else {
                LEFT + i * plot_width / (n - 1)
            }
        };
        let id = escape(self.id);
        let mut svg = String::new();
        let _ = write!(
            svg,
            "<svg id=\"{id}\" class=\"chart\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" \
             viewBox=\"0 0 {WIDTH} {height}\" width=\"{WIDTH}\" height=\"{height}\" \
             font-family=\"sans-serif\" font-size=\"11\">\n\
             <title id=\"{id}-title\">{}</title>\n\
             <desc id=\"{id}-desc\">{}</desc>\n",
            escape(self.title),
            escape(&self.description()),
        );
        // Grid lines and y labels, bottom to top.
        let mut tick = bottom;
        while tick <= top {
            let (stroke, width) = if tick == 0 {
                ("#444", 1)
            } else {
                ("#d8d8d8", 1)
            };
            let _ = writeln!(
                svg,
                "<line x1=\"{LEFT}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"{stroke}\" \
                 stroke-width=\"{width}\"/>\
                 <text x=\"{2}\" y=\"{3}\" text-anchor=\"end\">{4}</text>",
                y(tick),
                LEFT + plot_width,
                LEFT - 6,
                y(tick) + 4,
                escape(&self.unit.format(tick)),
            );
            tick += step;
        }
        // The axes.
        let _ = writeln!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{0}\" stroke=\"#444\"/>\
             <line x1=\"{LEFT}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#444\"/>",
            TOP + PLOT_HEIGHT,
            LEFT + plot_width,
        );
        // Period labels: as many as fit, evenly spaced.
        let room = (plot_width / LABEL_SPACING).max(1);
        let every = ceil_div(n.max(1), room).max(1);
        for (i, label) in (0..).zip(self.periods) {
            if i % every != 0 {
                continue;
            }
            let _ = writeln!(
                svg,
                "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#444\"/>\
                 <text x=\"{0}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>",
                x(i),
                TOP + PLOT_HEIGHT,
                TOP + PLOT_HEIGHT + 4,
                TOP + PLOT_HEIGHT + 17,
                escape(label),
            );
        }
        for line in &self.lines {
            let colour = PALETTE[line.colour % PALETTE.len()];
            let dash = if line.dashed {
                " stroke-dasharray=\"7 4\""
            } else {
                ""
            };
            let points: Vec<String> = (0..)
                .zip(line.values)
                .map(|(i, v)| format!("{},{}", x(i), y(i128::from(*v))))
                .collect();
            let _ = writeln!(
                svg,
                "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"{dash} \
                 points=\"{}\"/>",
                points.join(" ")
            );
            for ((i, value), period) in (0..).zip(line.values).zip(self.periods) {
                let _ = writeln!(
                    svg,
                    "<circle cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"{colour}\"><title>{}, {}: {}</title></circle>",
                    x(i),
                    y(i128::from(*value)),
                    escape(&line.label),
                    escape(period),
                    escape(&self.unit.format(i128::from(*value))),
                );
            }
        }
        // The legend, one entry a row under the plot.
        for (row, line) in (0..).zip(&self.lines) {
            let colour = PALETTE[line.colour % PALETTE.len()];
            let dash = if line.dashed {
                " stroke-dasharray=\"7 4\""
            } else {
                ""
            };
            let y = TOP + PLOT_HEIGHT + X_LABELS + row * LEGEND_ROW + 8;
            let _ = writeln!(
                svg,
                "<line x1=\"{LEFT}\" y1=\"{y}\" x2=\"{0}\" y2=\"{y}\" stroke=\"{colour}\" \
                 stroke-width=\"2\"{dash}/><text x=\"{1}\" y=\"{2}\">{3}</text>",
                LEFT + 30,
                LEFT + 38,
                y + 4,
                escape(&line.label),
            );
        }
        svg.push_str("</svg>");
        svg
    }

    /// A sentence for screen readers: what the axes hold.
    fn description(&self) -> String {
        match (self.periods.first(), self.periods.last()) {
            (Some(first), Some(last)) => format!(
                "{} lines over the periods {first} to {last}; the data table beside the chart \
                 lists every value",
                self.lines.len()
            ),
            _ => "no periods".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_y_axis_takes_the_least_nice_step_that_fits() {
        // 0 .. 1,080,000.00 DKK: steps of 200,000.00, six ticks up to 1,200,000.00.
        assert_eq!(y_axis(0, 108_000_000, 100), (0, 120_000_000, 20_000_000));
        // Negative and positive: −976,835.50 .. 1,080,000.00 in steps of 500,000.00.
        assert_eq!(
            y_axis(-97_683_550, 108_000_000, 100),
            (-100_000_000, 150_000_000, 50_000_000)
        );
        // All zero: one interval of the least step.
        assert_eq!(y_axis(0, 0, 100), (0, 100, 100));
        assert_eq!(y_axis(0, 7, 1), (0, 8, 2));
        assert_eq!(y_axis(0, 1, 1), (0, 1, 1));
        // The extremes of i64 still fit.
        let (bottom, top, _) = y_axis(i128::from(i64::MIN), i128::from(i64::MAX), 1);
        assert!(bottom <= i128::from(i64::MIN) && top >= i128::from(i64::MAX));
    }

    #[test]
    fn a_chart_places_points_exactly_and_escapes_text() {
        let periods = ["2024-Q1".to_owned(), "2024-Q2".to_owned()];
        let chart = Chart {
            id: "c",
            title: "A <title> & more",
            unit: Unit::Count,
            periods: &periods,
            lines: vec![Line {
                label: "x\"y".to_owned(),
                values: &[0, 2],
                dashed: true,
                colour: 9,
            }],
        };
        let svg = chart.render();
        assert!(svg.starts_with("<svg id=\"c\""), "{svg}");
        assert!(svg.ends_with("</svg>"));
        assert!(svg.contains("<title id=\"c-title\">A &lt;title&gt; &amp; more</title>"));
        // 0..2 in steps of 1: the plot's 240 pixels, y 14 at the top, 254 at 0.
        assert!(svg.contains("points=\"112,254 732,14\""), "{svg}");
        assert!(svg.contains("<title>x&quot;y, 2024-Q2: 2</title>"), "{svg}");
        assert!(svg.contains("stroke-dasharray"));
        assert!(!svg.contains("http"), "no namespace URL, no link: {svg}");
    }
}
