//! The four counties: what the article says (or the demo decides) about each.

use govrec_core::event::CompoundKind;

use crate::{GUANGLING, HUNYUAN, LINGQIU, TIANHE_YIJU, ZUOYUN};

pub(crate) struct Plan {
    pub(crate) name: &'static str,
    /// The county seat's town, as the article names it.
    pub(crate) town: &'static str,
    pub(crate) communities: usize,
    /// Communities named by the article; the rest are composed.
    pub(crate) named_communities: &'static [&'static str],
    pub(crate) compounds: usize,
    /// Compounds named by the article; they are among the larger ones.
    pub(crate) named_compounds: &'static [NamedCompound],
    /// The largest compounds have a compound branch each ...
    pub(crate) compound_branches: usize,
    /// ... and the rest are split among this many grid branches (none spans two communities).
    pub(crate) grid_branches: usize,
    /// When the article gives the county's size, the households add up to this.
    pub(crate) households_total: Option<u32>,
    pub(crate) venues: VenuePlan,
    pub(crate) mechanism_percent: u32,
    pub(crate) emergency_plan_percent: u32,
    /// A building group (楼栋党小组) for every building, else for some.
    pub(crate) building_group_every_building: bool,
    pub(crate) work_units: usize,
    pub(crate) work_units_reporting: usize,
    pub(crate) in_service_reported: usize,
    pub(crate) in_service_unreported: usize,
    pub(crate) residents: usize,
    pub(crate) retired: usize,
    pub(crate) floating: usize,
    /// Resident or retired members who report to their compound with the post `volunteer`.
    pub(crate) volunteers: usize,
    /// A figure of the article rests on the reports of in-service members and volunteers:
    /// they are never withdrawn, and those members are never removed or changed.
    pub(crate) reports_are_figures: bool,
    /// Compounds paired with a county work unit (units are reused when fewer).
    pub(crate) unit_paired_compounds: usize,
    pub(crate) cadre_pairings: usize,
    /// `None`: two members pair with every building unit; else the share of units paired.
    pub(crate) unit_pairing_percent: Option<u32>,
    pub(crate) household_pairings: usize,
    /// Outreach activities (policy talks, legal classes, performances) and other activities
    /// counted apart, when the article gives them; the county's other services then have no
    /// outreach kind.
    pub(crate) counted_activities: Option<(usize, usize)>,
    pub(crate) secretaries_replaced: usize,
    pub(crate) complaints: usize,
}

pub(crate) struct VenuePlan {
    pub(crate) transferred: usize,
    pub(crate) built: usize,
    /// Compounds that share their community's service centre.
    pub(crate) shared: usize,
}

pub(crate) struct NamedCompound {
    pub(crate) name: &'static str,
    pub(crate) kind: CompoundKind,
    pub(crate) households: Option<u32>,
    /// Units of each building; generated when empty.
    pub(crate) building_units: &'static [u32],
    /// In-service (all reported there), retired and resident members living there; when
    /// given, no other member lives there.
    pub(crate) members: Option<(usize, usize, usize)>,
}

pub(crate) const GUANGLING_PLAN: Plan = Plan {
    name: GUANGLING,
    town: "壶泉镇",
    communities: 6,
    named_communities: &[],
    compounds: 77,
    named_compounds: &[
        NamedCompound {
            name: "舒慧小区",
            kind: CompoundKind::Commercial,
            households: None,
            building_units: &[],
            members: None,
        },
        NamedCompound {
            name: "舒瑞小区",
            kind: CompoundKind::Commercial,
            households: None,
            building_units: &[],
            members: None,
        },
    ],
    compound_branches: 14,
    grid_branches: 12,
    households_total: Some(20_385),
    venues: VenuePlan {
        transferred: 12,
        built: 43,
        shared: 10,
    },
    mechanism_percent: 85,
    emergency_plan_percent: 70,
    building_group_every_building: false,
    work_units: 77,
    work_units_reporting: 77,
    in_service_reported: 1830,
    in_service_unreported: 64,
    residents: 700,
    retired: 420,
    floating: 40,
    volunteers: 30,
    reports_are_figures: true,
    unit_paired_compounds: 77,
    cadre_pairings: 14,
    unit_pairing_percent: Some(45),
    household_pairings: 80,
    counted_activities: None,
    secretaries_replaced: 0,
    complaints: 420,
};

pub(crate) const HUNYUAN_PLAN: Plan = Plan {
    name: HUNYUAN,
    town: "永安镇",
    communities: 8,
    named_communities: &[],
    compounds: 96,
    named_compounds: &[],
    compound_branches: 53,
    grid_branches: 12,
    households_total: None,
    venues: VenuePlan {
        transferred: 35,
        built: 39,
        shared: 22,
    },
    mechanism_percent: 90,
    emergency_plan_percent: 80,
    building_group_every_building: false,
    work_units: 64,
    work_units_reporting: 60,
    in_service_reported: 1240,
    in_service_unreported: 95,
    residents: 640,
    retired: 510,
    floating: 35,
    volunteers: 40,
    reports_are_figures: false,
    unit_paired_compounds: 96,
    cadre_pairings: 8,
    unit_pairing_percent: Some(35),
    household_pairings: 90,
    counted_activities: None,
    secretaries_replaced: 3,
    complaints: 460,
};

pub(crate) const ZUOYUN_PLAN: Plan = Plan {
    name: ZUOYUN,
    town: "云兴镇",
    communities: 5,
    named_communities: &[],
    compounds: 52,
    named_compounds: &[],
    compound_branches: 52,
    grid_branches: 0,
    households_total: None,
    venues: VenuePlan {
        transferred: 9,
        built: 42,
        shared: 0,
    },
    mechanism_percent: 80,
    emergency_plan_percent: 75,
    building_group_every_building: true,
    work_units: 58,
    work_units_reporting: 58,
    in_service_reported: 1582,
    in_service_unreported: 41,
    residents: 480,
    retired: 330,
    floating: 25,
    volunteers: 520,
    reports_are_figures: true,
    unit_paired_compounds: 40,
    cadre_pairings: 6,
    unit_pairing_percent: Some(50),
    household_pairings: 70,
    counted_activities: Some((256, 124)),
    secretaries_replaced: 0,
    complaints: 330,
};

pub(crate) const LINGQIU_PLAN: Plan = Plan {
    name: LINGQIU,
    town: "武灵镇",
    communities: 7,
    named_communities: &["永红社区"],
    compounds: 98,
    named_compounds: &[
        NamedCompound {
            name: TIANHE_YIJU,
            kind: CompoundKind::Commercial,
            households: Some(102),
            building_units: &[3, 3, 3],
            members: Some((22, 26, 16)),
        },
        NamedCompound {
            name: "永红苑小区",
            kind: CompoundKind::Commercial,
            households: None,
            building_units: &[],
            members: None,
        },
    ],
    compound_branches: 50,
    grid_branches: 48,
    households_total: None,
    venues: VenuePlan {
        transferred: 20,
        built: 78,
        shared: 0,
    },
    mechanism_percent: 100,
    emergency_plan_percent: 100,
    building_group_every_building: false,
    work_units: 55,
    work_units_reporting: 52,
    in_service_reported: 610,
    in_service_unreported: 48,
    residents: 520,
    retired: 400,
    floating: 20,
    volunteers: 35,
    reports_are_figures: false,
    unit_paired_compounds: 70,
    cadre_pairings: 6,
    unit_pairing_percent: None,
    household_pairings: 60,
    counted_activities: None,
    secretaries_replaced: 0,
    complaints: 390,
};

pub(crate) const PLANS: [&Plan; 4] = [&GUANGLING_PLAN, &HUNYUAN_PLAN, &ZUOYUN_PLAN, &LINGQIU_PLAN];
