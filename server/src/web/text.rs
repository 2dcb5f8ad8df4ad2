//! The words of the web page, in Chinese (the default) and English. One struct, two values:
//! a missing translation is a compile error.

use govrec_core::event::{AreaKind, ComplaintCategory};
use govrec_projections::{ComplaintStatus, Grade, SubjectKind};

/// The page's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn parse(text: &str) -> Option<Lang> {
        match text {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The `lang` attribute of the page.
    pub fn html(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The other language, for the switch.
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    pub fn text(self) -> &'static Text {
        match self {
            Lang::Zh => &ZH,
            Lang::En => &EN,
        }
    }
}

pub struct Text {
    pub title: &'static str,
    pub tagline: &'static str,
    pub switch_to: &'static str,
    pub sign_in: &'static str,
    pub token: &'static str,
    pub sign_in_help: &'static str,
    pub bad_token: &'static str,
    pub sign_out: &'static str,
    pub signed_in_as: &'static str,
    pub all_counties: &'static str,
    pub everything_in_scope: &'static str,
    pub back_to_scope: &'static str,
    pub as_of: &'static str,
    pub audit: &'static str,
    pub chain_verified: &'static str,
    pub records: &'static str,
    pub head_hash: &'static str,
    pub chain_damaged: &'static str,
    pub log_empty: &'static str,
    pub coverage: &'static str,
    pub party_org_coverage: &'static str,
    pub five_haves_rate: &'static str,
    pub report_rate: &'static str,
    pub pairing_coverage: &'static str,
    pub area: &'static str,
    pub compounds: &'static str,
    pub with_party_org: &'static str,
    pub all_five: &'static str,
    pub in_service_members: &'static str,
    pub reported: &'static str,
    pub building_units: &'static str,
    pub paired: &'static str,
    pub complaints_filed: &'static str,
    pub resolution_rate: &'static str,
    pub satisfaction: &'static str,
    pub total: &'static str,
    pub no_children: &'static str,
    pub ranking: &'static str,
    pub period: &'static str,
    pub subject: &'static str,
    pub all: &'static str,
    pub show: &'static str,
    pub rank: &'static str,
    pub name: &'static str,
    pub kind: &'static str,
    pub org_score: &'static str,
    pub resident_score: &'static str,
    pub combined: &'static str,
    pub grade: &'static str,
    pub top_of: &'static str,
    pub no_scores: &'static str,
    pub grade_distribution: &'static str,
    pub complaints: &'static str,
    pub overdue: &'static str,
    pub overdue_list: &'static str,
    pub no_overdue: &'static str,
    pub filed_on: &'static str,
    pub category: &'static str,
    pub status: &'static str,
    pub assignee: &'static str,
    pub due_on: &'static str,
    pub more_rows: &'static str,
    pub download_csv: &'static str,
    pub not_available: &'static str,
    pub redacted: &'static str,
    pub forbidden: &'static str,
    pub not_found: &'static str,
    pub bad_request: &'static str,
    pub unavailable: &'static str,
}

pub static ZH: Text = Text {
    title: "小区治理一览",
    tagline: "党建引领小区治理 · 台账、双评价与覆盖统计",
    switch_to: "English",
    sign_in: "登录",
    token: "访问令牌",
    sign_in_help: "请输入管理员发放的访问令牌。令牌只保存在本浏览器的 HttpOnly Cookie 中，不会出现在网址里。",
    bad_token: "令牌无效或已撤销，请重新输入。",
    sign_out: "退出",
    signed_in_as: "当前用户",
    all_counties: "全部县",
    everything_in_scope: "全部辖区",
    back_to_scope: "返回全部辖区",
    as_of: "数据截至",
    audit: "审计状态",
    chain_verified: "哈希链已核验至",
    records: "条记录",
    head_hash: "最新哈希",
    chain_damaged: "哈希链损坏，首个异常记录",
    log_empty: "日志为空",
    coverage: "覆盖情况",
    party_org_coverage: "党组织覆盖率",
    five_haves_rate: "五有达标率",
    report_rate: "报到率",
    pairing_coverage: "包联覆盖率",
    area: "区域",
    compounds: "小区",
    with_party_org: "建有党组织",
    all_five: "五有达标",
    in_service_members: "在职党员",
    reported: "已报到",
    building_units: "楼栋单元",
    paired: "已包联",
    complaints_filed: "诉求",
    resolution_rate: "办结率",
    satisfaction: "满意度",
    total: "合计",
    no_children: "没有下级区域。",
    ranking: "双评价排名",
    period: "考核期",
    subject: "对象",
    all: "全部",
    show: "查看",
    rank: "名次",
    name: "名称",
    kind: "类别",
    org_score: "组织评价",
    resident_score: "群众评价",
    combined: "综合得分",
    grade: "等次",
    top_of: "显示前 {shown} 名，共 {total} 个对象",
    no_scores: "该考核期没有评价。",
    grade_distribution: "等次分布",
    complaints: "群众诉求",
    overdue: "超期",
    overdue_list: "超期未办结",
    no_overdue: "没有超期未办结的诉求。",
    filed_on: "登记日期",
    category: "类型",
    status: "状态",
    assignee: "承办",
    due_on: "办理期限",
    more_rows: "仅显示前 {shown} 条，共 {total} 条；完整列表请下载 CSV。",
    download_csv: "下载 CSV",
    not_available: "—",
    redacted: "（已脱敏）",
    forbidden: "无权查看",
    not_found: "未找到",
    bad_request: "请求有误",
    unavailable: "暂时无法提供",
};

pub static EN: Text = Text {
    title: "Community governance at a glance",
    tagline: "Party-building-led community governance · ledgers, dual evaluation, coverage",
    switch_to: "中文",
    sign_in: "Sign in",
    token: "Access token",
    sign_in_help: "Enter the access token your administrator gave you. It is kept only in an HttpOnly cookie of this browser, never in the address.",
    bad_token: "The token is not valid or was revoked; please enter it again.",
    sign_out: "Sign out",
    signed_in_as: "Signed in as",
    all_counties: "all counties",
    everything_in_scope: "Everything in scope",
    back_to_scope: "Back to everything in scope",
    as_of: "Data as of",
    audit: "Audit state",
    chain_verified: "Hash chain verified up to",
    records: "records",
    head_hash: "Head hash",
    chain_damaged: "The hash chain is damaged; first bad record",
    log_empty: "The log is empty",
    coverage: "Coverage",
    party_org_coverage: "Party organisation coverage",
    five_haves_rate: "All five haves",
    report_rate: "Report rate",
    pairing_coverage: "Pairing coverage",
    area: "Area",
    compounds: "Compounds",
    with_party_org: "With party org",
    all_five: "All five haves",
    in_service_members: "In-service members",
    reported: "Reported",
    building_units: "Building units",
    paired: "Paired",
    complaints_filed: "Complaints",
    resolution_rate: "Resolved",
    satisfaction: "Satisfaction",
    total: "Total",
    no_children: "No areas below this one.",
    ranking: "Dual-evaluation ranking",
    period: "Period",
    subject: "Subject",
    all: "All",
    show: "Show",
    rank: "Rank",
    name: "Name",
    kind: "Kind",
    org_score: "Organisation",
    resident_score: "Residents",
    combined: "Combined",
    grade: "Grade",
    top_of: "Top {shown} of {total} subjects",
    no_scores: "No evaluations in this period.",
    grade_distribution: "Grades",
    complaints: "Residents' complaints",
    overdue: "Overdue",
    overdue_list: "Overdue, not resolved",
    no_overdue: "No complaint is overdue.",
    filed_on: "Filed on",
    category: "Category",
    status: "Status",
    assignee: "Assignee",
    due_on: "Due on",
    more_rows: "Showing the first {shown} of {total}; download the CSV for the full list.",
    download_csv: "Download CSV",
    not_available: "n/a",
    redacted: "(redacted)",
    forbidden: "Not allowed",
    not_found: "Not found",
    bad_request: "Bad request",
    unavailable: "Not available right now",
};

impl Lang {
    pub fn area_kind(self, kind: AreaKind) -> &'static str {
        match (self, kind) {
            (Lang::Zh, AreaKind::County) => "县",
            (Lang::Zh, AreaKind::Town) => "乡镇",
            (Lang::Zh, AreaKind::Community) => "社区",
            (Lang::Zh, AreaKind::Compound) => "小区",
            (Lang::Zh, AreaKind::Building) => "楼栋",
            (Lang::En, AreaKind::County) => "county",
            (Lang::En, AreaKind::Town) => "town",
            (Lang::En, AreaKind::Community) => "community",
            (Lang::En, AreaKind::Compound) => "compound",
            (Lang::En, AreaKind::Building) => "building",
        }
    }

    pub fn subject_kind(self, kind: SubjectKind) -> &'static str {
        match (self, kind) {
            (Lang::Zh, SubjectKind::Member) => "党员",
            (Lang::Zh, SubjectKind::WorkUnit) => "单位",
            (Lang::Zh, SubjectKind::Org) => "党组织",
            (Lang::En, SubjectKind::Member) => "member",
            (Lang::En, SubjectKind::WorkUnit) => "work unit",
            (Lang::En, SubjectKind::Org) => "party organisation",
        }
    }

    pub fn grade(self, grade: Grade) -> &'static str {
        match (self, grade) {
            (Lang::Zh, grade) => grade.label(),
            (Lang::En, Grade::Excellent) => "excellent",
            (Lang::En, Grade::Qualified) => "qualified",
            (Lang::En, Grade::BasicallyQualified) => "basically qualified",
            (Lang::En, Grade::Unqualified) => "unqualified",
        }
    }

    pub fn status(self, status: ComplaintStatus) -> &'static str {
        match (self, status) {
            (Lang::Zh, ComplaintStatus::Filed) => "已登记",
            (Lang::Zh, ComplaintStatus::Dispatched) => "已派单",
            (Lang::Zh, ComplaintStatus::Accepted) => "办理中",
            (Lang::Zh, ComplaintStatus::Resolved) => "已办结",
            (Lang::Zh, ComplaintStatus::Rated) => "已评价",
            (Lang::En, ComplaintStatus::Filed) => "filed",
            (Lang::En, ComplaintStatus::Dispatched) => "dispatched",
            (Lang::En, ComplaintStatus::Accepted) => "accepted",
            (Lang::En, ComplaintStatus::Resolved) => "resolved",
            (Lang::En, ComplaintStatus::Rated) => "rated",
        }
    }

    pub fn category(self, category: ComplaintCategory) -> &'static str {
        match (self, category) {
            (Lang::Zh, ComplaintCategory::Dispute) => "矛盾纠纷",
            (Lang::Zh, ComplaintCategory::Repair) => "维修",
            (Lang::Zh, ComplaintCategory::Sanitation) => "环境卫生",
            (Lang::Zh, ComplaintCategory::Safety) => "安全隐患",
            (Lang::Zh, ComplaintCategory::Policy) => "政策咨询",
            (Lang::Zh, ComplaintCategory::Other) => "其他",
            (Lang::En, ComplaintCategory::Dispute) => "dispute",
            (Lang::En, ComplaintCategory::Repair) => "repair",
            (Lang::En, ComplaintCategory::Sanitation) => "sanitation",
            (Lang::En, ComplaintCategory::Safety) => "safety",
            (Lang::En, ComplaintCategory::Policy) => "policy",
            (Lang::En, ComplaintCategory::Other) => "other",
        }
    }
}
