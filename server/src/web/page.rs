//! The HTML of the web page (maud: escaped by default, checked at compile time).

use govrec_core::event::AreaKind;
use govrec_projections::{
    AreaRef, ComplaintsLedger, CoverageAnswer, Grade, ScoreRow, ScoresAnswer, Stats, SubjectKind,
};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::chart;
use super::text::{Lang, Text};
use super::Link;
use crate::auth::{Principal, Scope};
use crate::chain_watch::AuditState;

/// Rows of the ranking table (the CSV has them all).
pub const RANKING_ROWS: usize = 20;
/// Rows of the overdue table.
pub const OVERDUE_ROWS: usize = 50;
/// Children drawn in a chart; the table lists them all.
pub const CHART_ROWS_MAX: usize = 40;

fn layout(lang: Lang, title: &str, header_extra: Markup, body: Markup) -> Markup {
    let t = lang.text();
    html! {
        (DOCTYPE)
        html lang=(lang.html()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · govrec" }
                link rel="stylesheet" href="/static/app.css";
            }
            body {
                header {
                    div .brand {
                        h1 { (t.title) }
                        p .tagline { (t.tagline) }
                    }
                    nav { (header_extra) }
                }
                main { (body) }
                footer { "govrec" }
            }
        }
    }
}

fn lang_switch(lang: Lang, link: &Link) -> Markup {
    html! {
        a .lang href=(link.with_lang(lang.other())) hreflang=(lang.other().html()) { (lang.text().switch_to) }
    }
}

/// The sign-in page; `error` when a token was refused.
pub fn sign_in(lang: Lang, error: bool) -> Markup {
    let t = lang.text();
    let link = Link::default();
    layout(
        lang,
        t.sign_in,
        lang_switch(lang, &link),
        html! {
            section #"sign-in" .card {
                h2 { (t.sign_in) }
                p { (t.sign_in_help) }
                @if error {
                    p .error role="alert" { (t.bad_token) }
                }
                form method="post" action="/login" {
                    label for="token" { (t.token) }
                    input #token type="password" name="token" autocomplete="current-password" required maxlength="512";
                    button type="submit" { (t.sign_in) }
                }
            }
        },
    )
}

/// A refusal or failure, with a way back.
pub fn problem(lang: Lang, heading: &str, detail: &str) -> Markup {
    let t = lang.text();
    layout(
        lang,
        heading,
        lang_switch(lang, &Link::default()),
        html! {
            section #problem .card {
                h2 { (heading) }
                p { (detail) }
                p { a href="/" { (t.back_to_scope) } }
            }
        },
    )
}

/// What the dashboard shows.
pub struct Dashboard<'a> {
    pub lang: Lang,
    pub principal: &'a Principal,
    pub link: Link,
    pub coverage: &'a CoverageAnswer,
    pub scores: &'a ScoresAnswer,
    pub complaints: &'a ComplaintsLedger,
    pub audit: &'a AuditState,
}

pub fn dashboard(page: &Dashboard) -> Markup {
    let lang = page.lang;
    let t = lang.text();
    let area_name = page
        .coverage
        .area
        .as_ref()
        .map_or(t.everything_in_scope, |area| area.name.as_str());
    let scope = match &page.principal.scope {
        Scope::All => t.all_counties.to_owned(),
        Scope::Counties(counties) => format!("{} × {}", counties.len(), lang.area_kind(AreaKind::County)),
    };
    let header = html! {
        span .who { (t.signed_in_as) ": " strong { (page.principal.name) } " (" (page.principal.role.as_str()) " · " (scope) ")" }
        (lang_switch(lang, &page.link))
        form ."sign-out" method="post" action="/logout" { button type="submit" { (t.sign_out) } }
    };
    layout(
        lang,
        area_name,
        header,
        html! {
            (audit_section(lang, page.audit))
            (coverage_section(lang, page))
            (ranking_section(lang, page))
            (complaints_section(lang, page))
        },
    )
}

fn audit_section(lang: Lang, audit: &AuditState) -> Markup {
    let t = lang.text();
    html! {
        section #audit .card {
            h2 { (t.audit) }
            @match audit {
                AuditState::Empty => p #"audit-state" data-state="empty" { (t.log_empty) },
                AuditState::Intact { last_seq, head_hash } => p #"audit-state" data-state="intact" data-seq=(last_seq) {
                    span .ok { "✔ " } (t.chain_verified) " seq " strong { (last_seq) }
                    " (" (last_seq + 1) " " (t.records) ") · " (t.head_hash) " "
                    code #"head-hash" { (head_hash) }
                },
                AuditState::Damaged { first_bad_seq, reason } => p #"audit-state" .error data-state="damaged" data-seq=(first_bad_seq) {
                    "✘ " (t.chain_damaged) ": seq " strong { (first_bad_seq) } " — " (reason)
                },
            }
        }
    }
}

fn percent(rate: Option<f64>, t: &Text) -> String {
    rate.map_or_else(
        || t.not_available.to_owned(),
        |rate| format!("{:.1}%", rate * 100.0),
    )
}

/// A cell carrying the API's raw value (as JSON) beside the text shown.
fn cell(key: &str, value: &serde_json::Value, text: &str) -> Markup {
    html! { td data-key=(key) data-value=(value.to_string()) { (text) } }
}

fn count_cell(key: &str, count: u64) -> Markup {
    cell(key, &serde_json::Value::from(count), &count.to_string())
}

fn rate_cell(key: &str, rate: Option<f64>, t: &Text) -> Markup {
    cell(key, &serde_json::json!(rate), &percent(rate, t))
}

fn five_haves_rate(stats: &Stats) -> Option<f64> {
    (stats.compounds > 0).then(|| stats.five_haves.all_five as f64 / stats.compounds as f64)
}

fn stats_cells(stats: &Stats, t: &Text) -> Markup {
    html! {
        (count_cell("compounds", stats.compounds))
        (count_cell("compounds_with_party_org", stats.compounds_with_party_org))
        (rate_cell("party_org_coverage", stats.party_org_coverage, t))
        (count_cell("five_haves.all_five", stats.five_haves.all_five))
        (count_cell("in_service_members", stats.in_service_members))
        (count_cell("in_service_reported", stats.in_service_reported))
        (rate_cell("report_rate", stats.report_rate, t))
        (count_cell("building_units", stats.building_units))
        (count_cell("building_units_paired", stats.building_units_paired))
        (rate_cell("pairing_coverage", stats.pairing_coverage, t))
        (count_cell("complaints_filed", stats.complaints_filed))
        (rate_cell("resolution_rate", stats.resolution_rate, t))
        (cell("mean_satisfaction", &serde_json::json!(stats.mean_satisfaction),
            &stats.mean_satisfaction.map_or_else(|| t.not_available.to_owned(), |s| format!("{s:.2}"))))
    }
}

fn area_label(lang: Lang, area: &AreaRef) -> String {
    format!("{} ({})", area.name, lang.area_kind(area.kind))
}

fn coverage_section(lang: Lang, page: &Dashboard) -> Markup {
    let t = lang.text();
    let coverage = page.coverage;
    let children: Vec<_> = coverage.children.iter().take(CHART_ROWS_MAX).collect();
    let labels: Vec<String> = children.iter().map(|child| child.area.name.clone()).collect();
    let charts = [
        (
            t.party_org_coverage,
            children
                .iter()
                .map(|c| c.stats.party_org_coverage)
                .collect::<Vec<_>>(),
        ),
        (
            t.five_haves_rate,
            children.iter().map(|c| five_haves_rate(&c.stats)).collect(),
        ),
        (
            t.report_rate,
            children.iter().map(|c| c.stats.report_rate).collect(),
        ),
        (
            t.pairing_coverage,
            children.iter().map(|c| c.stats.pairing_coverage).collect(),
        ),
    ];
    let heading = coverage
        .area
        .as_ref()
        .map_or_else(|| t.everything_in_scope.to_owned(), |area| area_label(lang, area));
    html! {
        section #coverage .card {
            h2 { (t.coverage) " · " (heading) }
            p ."as-of" {
                (t.as_of) " seq " (coverage.as_of.seq.map_or_else(|| "—".to_owned(), |seq| seq.to_string()))
                " · " (coverage.as_of.recorded_at.as_deref().unwrap_or("—"))
                @if coverage.area.is_some() {
                    " · " a href=(page.link.with_area(None)) { (t.back_to_scope) }
                }
            }
            @if coverage.children.is_empty() {
                p { (t.no_children) }
            } @else {
                div .charts {
                    @for (title, rates) in &charts {
                        figure {
                            figcaption { (title) }
                            (PreEscaped(chart::rate_bars(&labels, rates, 460, t.not_available)))
                        }
                    }
                }
            }
            div ."table-wrap" {
                table #"coverage-table" {
                    thead { tr {
                        th { (t.area) } th { (t.compounds) } th { (t.with_party_org) } th { (t.party_org_coverage) }
                        th { (t.all_five) } th { (t.in_service_members) } th { (t.reported) } th { (t.report_rate) }
                        th { (t.building_units) } th { (t.paired) } th { (t.pairing_coverage) }
                        th { (t.complaints_filed) } th { (t.resolution_rate) } th { (t.satisfaction) }
                    } }
                    tbody {
                        @for child in &coverage.children {
                            tr data-area=(child.area.id) {
                                th scope="row" {
                                    @if matches!(child.area.kind, AreaKind::County | AreaKind::Town | AreaKind::Community) {
                                        a href=(page.link.with_area(Some(child.area.id))) { (child.area.name) }
                                    } @else {
                                        (child.area.name)
                                    }
                                    " " small { (lang.area_kind(child.area.kind)) }
                                }
                                (stats_cells(&child.stats, t))
                            }
                        }
                    }
                    tfoot {
                        tr .total data-area="total" {
                            th scope="row" { (t.total) }
                            (stats_cells(&coverage.stats, t))
                        }
                    }
                }
            }
            p { a.csv href=(page.link.download("coverage")) download { (t.download_csv) } }
        }
    }
}

/// Scores in ranking order: combined score high to low, unscored last, then by name.
pub fn rank(scores: &mut [ScoreRow]) {
    scores.sort_by(|a, b| {
        b.combined
            .unwrap_or(f64::NEG_INFINITY)
            .total_cmp(&a.combined.unwrap_or(f64::NEG_INFINITY))
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.subject_id.cmp(&b.subject_id))
    });
}

const GRADES: [Grade; 4] = [
    Grade::Excellent,
    Grade::Qualified,
    Grade::BasicallyQualified,
    Grade::Unqualified,
];

fn score_text(score: Option<f64>, t: &Text) -> String {
    score.map_or_else(|| t.not_available.to_owned(), |score| format!("{score:.1}"))
}

fn ranking_section(lang: Lang, page: &Dashboard) -> Markup {
    let t = lang.text();
    let scores = &page.scores.scores;
    let grade_counts: Vec<u64> = GRADES
        .iter()
        .map(|grade| scores.iter().filter(|row| row.grade == Some(*grade)).count() as u64)
        .collect();
    let grade_labels: Vec<String> = GRADES.iter().map(|grade| lang.grade(*grade).to_owned()).collect();
    let year = page.link.period.get(..4).unwrap_or("2026").to_owned();
    let periods = [
        year.clone(),
        format!("{year}-H1"),
        format!("{year}-H2"),
        format!("{year}-Q1"),
        format!("{year}-Q2"),
        format!("{year}-Q3"),
        format!("{year}-Q4"),
    ];
    let shown = scores.len().min(RANKING_ROWS);
    html! {
        section #ranking .card {
            h2 { (t.ranking) }
            form .filters method="get" action="/" {
                @if let Some(area) = page.link.area { input type="hidden" name="area" value=(area); }
                label { (t.period) " "
                    select name="period" {
                        @for period in &periods {
                            option value=(period) selected[*period == page.link.period] { (period) }
                        }
                    }
                }
                label { (t.subject) " "
                    select name="subject_kind" {
                        option value="" selected[page.link.subject_kind.is_none()] { (t.all) }
                        @for kind in [SubjectKind::Member, SubjectKind::WorkUnit, SubjectKind::Org] {
                            option value=(super::subject_kind_str(kind)) selected[page.link.subject_kind == Some(kind)] { (lang.subject_kind(kind)) }
                        }
                    }
                }
                button type="submit" { (t.show) }
            }
            @if scores.is_empty() {
                p { (t.no_scores) }
            } @else {
                div ."ranking-body" {
                    figure {
                        figcaption { (t.grade_distribution) }
                        (PreEscaped(chart::count_bars(&grade_labels, &grade_counts, &[3], 360, 220)))
                    }
                    div ."table-wrap" {
                        table #"ranking-table" {
                            thead { tr {
                                th { (t.rank) } th { (t.name) } th { (t.kind) } th { (t.org_score) }
                                th { (t.resident_score) } th { (t.combined) } th { (t.grade) }
                            } }
                            tbody {
                                @for (index, row) in scores.iter().take(RANKING_ROWS).enumerate() {
                                    tr data-subject=(row.subject_id) class=[row.grade.filter(|g| *g == Grade::Unqualified).map(|_| "alarm")] {
                                        td { (index + 1) }
                                        th scope="row" { (row.name.as_deref().unwrap_or(t.redacted)) }
                                        td { (lang.subject_kind(row.subject_kind)) }
                                        (cell("org_score", &serde_json::json!(row.org_score), &score_text(row.org_score, t)))
                                        (cell("resident_score", &serde_json::json!(row.resident_score), &score_text(row.resident_score, t)))
                                        (cell("combined", &serde_json::json!(row.combined), &score_text(row.combined, t)))
                                        (cell("grade", &serde_json::json!(row.grade), row.grade.map_or(t.not_available, |grade| lang.grade(grade))))
                                    }
                                }
                            }
                        }
                        p .note { (t.top_of.replace("{shown}", &shown.to_string()).replace("{total}", &scores.len().to_string())) }
                    }
                }
            }
            p { a.csv href=(page.link.download("scores")) download { (t.download_csv) } }
        }
    }
}

fn complaints_section(lang: Lang, page: &Dashboard) -> Markup {
    use govrec_projections::ComplaintStatus as S;
    let t = lang.text();
    let ledger = page.complaints;
    let counts = &ledger.counts;
    let labels: Vec<String> = [S::Filed, S::Dispatched, S::Accepted, S::Resolved, S::Rated]
        .iter()
        .map(|status| lang.status(*status).to_owned())
        .chain([t.overdue.to_owned()])
        .collect();
    let values = [
        counts.filed,
        counts.dispatched,
        counts.accepted,
        counts.resolved,
        counts.rated,
        counts.overdue,
    ];
    let keys = ["filed", "dispatched", "accepted", "resolved", "rated", "overdue"];
    html! {
        section #complaints .card {
            h2 { (t.complaints) }
            div ."ranking-body" {
                figure {
                    figcaption { (t.status) }
                    (PreEscaped(chart::count_bars(&labels, &values, &[5], 460, 220)))
                }
                table #"complaint-counts" {
                    tbody {
                        @for ((key, label), value) in keys.iter().zip(&labels).zip(values) {
                            tr data-status=(key) class=[(*key == "overdue").then_some("alarm")] {
                                th scope="row" { (label) }
                                (count_cell(key, value))
                            }
                        }
                        tr .total data-status="total" { th scope="row" { (t.total) } (count_cell("total", counts.total)) }
                    }
                }
            }
            h3 { (t.overdue_list) " (" (ledger.overdue_on) ")" }
            @if ledger.complaints.is_empty() {
                p { (t.no_overdue) }
            } @else {
                div ."table-wrap" {
                    table #"overdue-table" {
                        thead { tr {
                            th { (t.filed_on) } th { (t.area) } th { (t.category) } th { (t.status) }
                            th { (t.assignee) } th { (t.due_on) }
                        } }
                        tbody {
                            @for row in &ledger.complaints {
                                tr .overdue data-complaint=(row.complaint_id) {
                                    td { (row.filed.occurred_on) }
                                    td { (row.area.name) }
                                    td { (lang.category(row.category)) }
                                    td { (lang.status(row.status)) }
                                    td { (row.assignee.as_ref().map_or(t.not_available, |a| a.name.as_deref().unwrap_or(t.redacted))) }
                                    td .due { (row.due_on.as_deref().unwrap_or(t.not_available)) }
                                }
                            }
                        }
                    }
                }
                @if counts.overdue as usize > ledger.complaints.len() {
                    p .note { (t.more_rows.replace("{shown}", &ledger.complaints.len().to_string()).replace("{total}", &counts.overdue.to_string())) }
                }
            }
            p { a.csv href=(page.link.download("complaints")) download { (t.download_csv) } }
        }
    }
}
