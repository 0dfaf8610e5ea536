//! The pass-rate plot, as a small hand-written SVG: the validate-split pass rate of the
//! version each iteration ended with (on the pairs its decision compared), and the test split
//! at baseline and at the end with their 95% intervals.

use super::Report;

const W: f64 = 640.0;
const H: f64 = 360.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

pub fn svg(report: &Report) -> String {
    let last = report.iterations.iter().map(|i| i.iteration).max().unwrap_or(0).max(1) as f64;
    let x = |i: f64| LEFT + (W - LEFT - RIGHT) * i / last;
    let y = |r: f64| TOP + (H - TOP - BOTTOM) * (1.0 - r.clamp(0.0, 1.0));
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"12\">\
         <rect width=\"{W}\" height=\"{H}\" fill=\"white\"/>\
         <text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">Pass rate by iteration</text>",
        W / 2.0
    );
    for tick in 0..=4 {
        let r = f64::from(tick) * 0.25;
        s.push_str(&format!(
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}%</text>",
            W - RIGHT,
            LEFT - 6.0,
            y(r) + 4.0,
            (r * 100.0) as u32,
            y = y(r)
        ));
    }
    for i in 0..=last as u32 {
        s.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{i}</text>",
            x(f64::from(i)),
            H - BOTTOM + 18.0
        ));
    }
    s.push_str(&format!("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">iteration</text>", W / 2.0, H - 10.0));
    s.push_str(&format!(
        "<line x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{}\" stroke=\"#444\"/><line x1=\"{LEFT}\" x2=\"{}\" y1=\"{b}\" y2=\"{b}\" stroke=\"#444\"/>",
        H - BOTTOM,
        W - RIGHT,
        b = H - BOTTOM
    ));

    // Validate split: the version each iteration ended with.
    let points: Vec<(f64, f64)> = report
        .iterations
        .iter()
        .filter_map(|it| it.validate_after.or(it.validate_parent).map(|r| (x(f64::from(it.iteration)), y(r))))
        .collect();
    if !points.is_empty() {
        let path: Vec<String> = points.iter().map(|(px, py)| format!("{px:.1},{py:.1}")).collect();
        s.push_str(&format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#2b6cb0\" stroke-width=\"2\"/>",
            path.join(" ")
        ));
        for (px, py) in &points {
            s.push_str(&format!("<circle class=\"validate\" cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"4\" fill=\"#2b6cb0\"/>"));
        }
    }
    // Test split: baseline and current, with their intervals.
    // Offset beside the validate points, inwards so the last one stays inside the plot.
    for (rate, px) in [(&report.baseline, x(0.0) + 8.0), (&report.current, x(last) - 8.0)] {
        if let Some(r) = rate {
            s.push_str(&format!(
                "<line x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#c05621\" stroke-width=\"2\"/>\
                 <rect class=\"test\" x=\"{:.1}\" y=\"{:.1}\" width=\"8\" height=\"8\" fill=\"#c05621\"/>",
                y(r.ci95.0),
                y(r.ci95.1),
                px - 4.0,
                y(r.rate) - 4.0
            ));
        }
    }
    let (lx, ly) = (LEFT + 10.0, TOP - 8.0);
    s.push_str(&format!(
        "<circle cx=\"{lx}\" cy=\"{ly}\" r=\"4\" fill=\"#2b6cb0\"/><text x=\"{}\" y=\"{}\">validate split (accepted version)</text>\
         <rect x=\"{}\" y=\"{}\" width=\"8\" height=\"8\" fill=\"#c05621\"/><text x=\"{}\" y=\"{}\">test split, 95% interval</text></svg>\n",
        lx + 10.0,
        ly + 4.0,
        lx + 226.0,
        ly - 4.0,
        lx + 240.0,
        ly + 4.0,
    ));
    s
}
