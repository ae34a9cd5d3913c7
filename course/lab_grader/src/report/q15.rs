//! Q15: how many `RESET` datagrams `part3_reset` sends per acknowledgment,
//! and the loss probability that gives, from `part3_reset --runs` against
//! `lab_server` on loopback with the course's loss (each request dropped
//! with probability 0.5 by default); and the histogram of the runs by the
//! attempts they took, as an SVG picture beside the report.

use super::run_ok;
use crate::part3::{OffsetLine, SummaryLine, parse_offset_line, parse_summary};
use anyhow::anyhow;
use lab_server::{OffsetSep, UdpFamily};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The course server's drop probability.
pub const COURSE_LOSS: f64 = 0.5;
/// The handout's `RESET:<n>`, the only one the course server answers.
pub const RESET_N: u32 = 20;

/// Q15: the runs of `part3_reset --runs`.
#[derive(Debug)]
pub struct Resets {
    pub lines: Vec<OffsetLine>,
    pub summary: SummaryLine,
    pub timeout: &'static str,
}

impl Resets {
    /// How many runs took 1, 2, 3 … attempts (index 0: one attempt).
    pub fn histogram(&self) -> Vec<u64> {
        let max = self.lines.iter().map(|l| l.attempts).max().unwrap_or(1) as usize;
        let mut counts = vec![0u64; max.max(1)];
        for line in &self.lines {
            if line.attempts >= 1 {
                counts[line.attempts as usize - 1] += 1;
            }
        }
        counts
    }
}

pub fn measure(reset: &Path, runs: u64, loss: f64) -> anyhow::Result<Resets> {
    let lab = crate::checks::lab_server(|c| {
        c.udp_port = Some(0);
        c.udp_family = UdpFamily::V4;
        c.loss = loss;
        c.reset_n = RESET_N;
        c.offset_sep = OffsetSep::Colon;
        c.log = false;
    })
    .map_err(|why| anyhow!(why))?;
    let port = lab.udp_port().unwrap_or(0).to_string();
    // Half the course's second: quick, and still far above loopback's round
    // trip even on a loaded machine, where a shorter wait would count a
    // late reply as a loss.
    let timeout = "0.5";
    let run = run_ok(
        reset,
        &[
            "--host",
            "localhost",
            "--port",
            &port,
            "--timeout",
            timeout,
            "--reset",
            &RESET_N.to_string(),
            "--runs",
            &runs.to_string(),
        ],
    )?;
    let lines = run.lines();
    let (summary, offsets) = lines
        .split_last()
        .ok_or_else(|| anyhow!("part3_reset printed nothing"))?;
    let summary = parse_summary(summary).map_err(|why| anyhow!(why))?;
    let lines = offsets
        .iter()
        .map(|l| parse_offset_line(l))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|why| anyhow!(why))?;
    Ok(Resets {
        lines,
        summary,
        timeout,
    })
}

pub fn render(o: &mut String, resets: &Resets, loss: f64, svg_name: &str) {
    let s = &resets.summary;
    let hist = resets.histogram();
    let _ = writeln!(o, "## Q15: attempts per acknowledgment and the loss\n");
    let _ = writeln!(
        o,
        "`part3_reset --runs {} --timeout {} --reset {RESET_N}` against `lab_server --loss \
         {loss}` on loopback (each `RESET:{RESET_N}` dropped with probability {loss}{}, IPv4 \
         only). Its summary line:\n",
        s.runs,
        resets.timeout,
        if loss == COURSE_LOSS {
            ", the course server's"
        } else {
            ""
        },
    );
    let _ = writeln!(
        o,
        "```text\nruns: {}, attempts: {}, mean attempts per ack: {:.2}, estimated loss probability: {:.3}\n```\n",
        s.runs, s.attempts, s.mean, s.loss
    );
    let _ = writeln!(
        o,
        "**Answer:** A15.a: **{:.2}** datagrams per acknowledgment on average ({} attempts \
         over {} runs); with independent drops of probability p the attempts are geometric \
         with mean 1/(1-p), {:.2} for p = {loss}. A15.b: a loss probability of about \
         **{:.3}** (1 - runs/attempts; configured: {loss}); counting each attempt as a trial \
         lost with probability p, its standard error is about √(p(1-p)/A) = {:.3}.\n",
        s.mean,
        s.attempts,
        s.runs,
        1.0 / (1.0 - loss),
        s.loss,
        (s.loss * (1.0 - s.loss) / s.attempts.max(1) as f64).sqrt()
    );
    let _ = writeln!(o, "![Runs by the attempts they took]({svg_name})\n");
    let _ = writeln!(o, "| attempts | runs |");
    let _ = writeln!(o, "|---:|---:|");
    for (i, n) in hist.iter().enumerate() {
        let _ = writeln!(o, "| {} | {n} |", i + 1);
    }
    let _ = writeln!(o);
}

/// The SVG's path: beside the report, `REPORT_q15_attempts.svg` for
/// `REPORT.md`.
pub fn svg_path(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "REPORT".to_string());
    out.with_file_name(format!("{stem}_q15_attempts.svg"))
}

/// A bar chart of `counts` (runs that took 1, 2, 3 … attempts), as SVG.
pub fn histogram_svg(counts: &[u64]) -> String {
    let (width, height) = (560.0_f64, 320.0_f64);
    let (left, right, top, bottom) = (56.0, 16.0, 40.0, 48.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let bars = counts.len().max(1) as f64;
    let slot = plot_w / bars;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">part3_reset: runs by the attempts they took ({} runs)</text>"#,
        width / 2.0,
        counts.iter().sum::<u64>()
    );
    // The value axis: four ticks.
    for i in 0..=4 {
        let value = max as f64 * i as f64 / 4.0;
        let y = top + plot_h - plot_h * i as f64 / 4.0;
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{value:.0}</text>"##,
            left + plot_w,
            left - 6.0,
            y + 4.0
        );
    }
    for (i, &n) in counts.iter().enumerate() {
        let h = plot_h * n as f64 / max as f64;
        let x = left + slot * i as f64 + slot * 0.15;
        let y = top + plot_h - h;
        let _ = writeln!(
            svg,
            r##"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}" fill="#4878a8"><title>{} attempt(s): {n} run(s)</title></rect>"##,
            slot * 0.7,
            i + 1
        );
        if n > 0 {
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{n}</text>"#,
                x + slot * 0.35,
                y - 4.0
            );
        }
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            x + slot * 0.35,
            top + plot_h + 16.0,
            i + 1
        );
    }
    let _ = writeln!(
        svg,
        r#"<line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="black"/>"#,
        top + plot_h,
        left + plot_w,
        top + plot_h
    );
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">attempts until the offset came back</text>"#,
        left + plot_w / 2.0,
        height - 12.0
    );
    let _ = writeln!(
        svg,
        r#"<text x="16" y="{:.1}" text-anchor="middle" transform="rotate(-90 16 {:.1})">runs</text>"#,
        top + plot_h / 2.0,
        top + plot_h / 2.0
    );
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_is_an_svg_with_a_bar_per_count() {
        let svg = histogram_svg(&[60, 25, 10, 5]);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<rect x=").count(), 4);
        assert!(svg.contains("100 runs"));
        assert_eq!(
            svg_path(Path::new("/tmp/x/REPORT.md")),
            Path::new("/tmp/x/REPORT_q15_attempts.svg")
        );
    }
}
