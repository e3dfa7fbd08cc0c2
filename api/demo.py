# ruff: noqa: RUF001 -- Chinese text uses full-width punctuation on purpose.
"""The demo town: six months of Yanghang's people's issues, built deterministically from a seed.

`seed_demo` fills an **empty** store through the application service only, moving a
`FakeClock` forward (never back) so that every event carries a historical timestamp. The town
follows DOMAIN.md's numbers: 19 leaders, 135 representatives and 663 members to draw names
from; 80 opinions and 30 suggestions across the six areas, merged at analysis meetings (every
two months) into about 40 items sorted by horizon; assignment meetings that give each item one
leader, a department, goals, measures and a deadline, disclosed on the bulletin boards and the
public register; progress, coordination, inspections, handovers and extensions; overdue items
escalated by `escalate_if_overdue` (some up to the district standing committee); evaluation
meetings that close items, or reopen them below the 95% target; items registered and explained
with a revisit date; answers to the reporters (the newest voices are still unanswered).

It contains SCENARIOS.md stories 1 and 2, shifted so that they end before `today` (the story's
"March 3" is day 0 of the demo, about six months ago):

- the dark lane is the first item opened (number ``<year>-0001``): four voices, Zhang then Li,
  escalated to town, 90% → reopened under Li, then closed; replaying it as of
  `DemoReport.dark_lane_replay_at` (the story's "May 3") shows it at town level under Zhang;
- a blocked drain fixed at once (`close_fixed_at_once`), and a bus line registered and
  explained with a revisit date about a year after the story's start.

Deterministic for a seed and a `today`: choices come from `random.Random(seed)`, and every
command that takes an idempotency key gets one made of the seed and a counter, so the ids the
workflow derives (uuid5) are the same on every run. Reporters' names, phones and addresses
are made up and go only through `contact=`, which keeps them out of the event log.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import partial
from uuid import UUID

from domain.clock import FakeClock
from domain.contacts import Contact
from domain.rules import Actor, Area, Channel, Horizon, Kind, Level, MeetingKind, Role, Route, Verdict
from domain.workflow import Workflow

__all__ = [
    "DemoReport",
    "StoreNotEmptyError",
    "demo_start",
    "seed_demo",
    "store_is_empty",
]

BEIJING = timezone(timedelta(hours=8), "CST")
LAST_DAY = 180  # day 0 is the story's "March 3"; day 180 is yesterday (Beijing time)
ANALYSIS_DAYS = (11, 72, 133)  # every two months
ASSIGNMENT_DAYS = (17, 78, 139)
EVALUATION_DAYS = (101, 141, 175)
REPLAY_DAY = 61  # the story's "May 3"
REMINDER_LEAD = timedelta(days=3)

TOWN = "杨行镇"
DISTRICT = "宝山区"
VILLAGES = ("杨北村", "杨南村", "湄浦村", "北宗村", "桂家木村", "东街社区", "西街社区", "杨泰社区")
REGISTER = "杨行镇民情公开登记册"
TOWN_BOARD = "杨行镇政务公开栏"

LEADERS = (
    ("陈志强", "党委书记"),
    ("周国平", "镇长"),
    ("刘建明", "党委副书记"),
    ("张建国", "副镇长"),
    ("李卫东", "党委委员、副镇长"),
    ("王立新", "副镇长"),
    ("孙海燕", "副镇长"),
    ("郭晓明", "副镇长"),
    ("吴晓红", "纪委书记"),
    ("郑伟", "组织委员"),
    ("黄丽华", "宣传委员"),
    ("胡国庆", "政法委员"),
    ("朱文斌", "统战委员"),
    ("何志刚", "党委委员"),
    ("马俊", "武装部长"),
    ("徐正洪", "人大主席"),
    ("林秀兰", "工会主席"),
    ("高玉梅", "妇联主席"),
    ("罗宇", "团委书记"),
)
REPRESENTATIVES = 135
MEMBERS = 663
HOUSEHOLDS = 1657

ZHANG = "张建国"  # story 1: the first leader of the dark lane, transferred on the story's May 6
LI = "李卫东"  # story 1: his successor
MAYOR = "周国平"
WANG = "王建华"  # story 1: the member who first hears of the dark lane
ZHAO = "赵丽萍"  # story 1: the member who hears it from two more households
HOTLINE = ("沈佳", "钱晓雯")  # operators of the town's hotline and online platform
CLERK = "陆佳怡"  # keeps the minutes and the register

DARK_LANE_TITLE = "Street lights for the back lanes of grid 4"
DRAIN_TITLE = "Blocked drain by the old-street market"
BUS_LINE_TITLE = "New bus line to the district hospital"

AREA_LEADERS: dict[Area, tuple[str, ...]] = {
    Area.DEVELOPMENT: ("周国平", "王立新", "朱文斌", "郭晓明"),
    Area.ENVIRONMENT: ("孙海燕", "何志刚", "郭晓明", "李卫东"),
    Area.SECURITY: ("胡国庆", "马俊", "李卫东", "刘建明"),
    Area.LIVELIHOOD: ("孙海燕", "刘建明", "林秀兰", "王立新"),
    Area.CULTURE: ("黄丽华", "罗宇", "高玉梅", "徐正洪"),
    Area.CONDUCT: ("吴晓红", "郑伟", "陈志强", "刘建明"),
}

CHANNELS = (
    (Channel.HOUSEHOLD_VISIT, 50),
    (Channel.RECEPTION, 14),
    (Channel.DOWN_VISIT, 10),
    (Channel.HOTLINE, 10),
    (Channel.ONLINE, 6),
    (Channel.PROPOSAL, 5),
    (Channel.SURVEY, 5),
)

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴孔汤"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英华平刚桂兰玉萍红霞"
    "建国文斌志海燕春梅飞鹏辉晶玲琳佳雪慧婷倩颖浩宇鑫凯翔德福荣根宝林森"
)


class StoreNotEmptyError(RuntimeError):
    """Raised when the demo is asked to fill a store that already holds events."""


@dataclass(frozen=True)
class DemoReport:
    """What `seed_demo` wrote: the town's numbers and where the two stories are."""

    seed: int
    start: datetime
    end: datetime
    leaders: int
    representatives: int
    members: int
    households: int
    opinions: int
    suggestions: int
    unanswered: int
    items: int
    by_stage: dict[str, int]
    escalated: int
    on_committee_list: int
    overdue: int
    reopened: int
    registered: int
    fixed_at_once: int
    meetings: int
    events: int
    dark_lane: str
    dark_lane_replay_at: datetime
    drain: str
    bus_line: str


def store_is_empty(workflow: Workflow) -> bool:
    """Whether the event log holds nothing yet."""
    return not workflow.recorder.max_notification_id()


def _origin(today: datetime) -> date:
    """Day 0 of the demo: LAST_DAY days before yesterday, in Beijing."""
    if today.tzinfo is None:
        raise ValueError("today must carry a time zone")
    return today.astimezone(BEIJING).date() - timedelta(days=LAST_DAY + 1)


def _moment(origin: date, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(origin + timedelta(days=day), time(hour, minute), tzinfo=BEIJING).astimezone(UTC)


def demo_start(today: datetime) -> datetime:
    """The first moment of the demo's history for `today`: a `FakeClock` may start here."""
    return _moment(_origin(today), 0, 0)


# -- what the people say and what the town does about it ---------------------------------------


@dataclass(frozen=True)
class _Template:
    """One kind of rectification item: what people say, and how the town handles it."""

    title: str
    area: Area
    level: Level
    kind: Kind
    voices: tuple[str, ...]
    suggestion: str
    goals: tuple[str, ...]
    measures: tuple[str, ...]
    department: str
    progress: tuple[str, ...]
    resolution: str
    coordination: tuple[str, str, str] | None = None  # department, request, answer
    explanation: str | None = None  # set when the item may be registered and explained


TEMPLATES = (
    # -- development (经济发展) --
    _Template(
        "Job fair for middle-aged job seekers", Area.DEVELOPMENT, Level.TOWN, Kind.DIFFICULTY,
        ("厂里关停以后，村里不少四五十岁的人找不到工作，希望镇里帮忙介绍岗位。",
         "我们夫妻俩都失业了，孩子还在读书，想在家门口找份稳定的工作。"),
        "建议镇里每季度在家门口办一次招聘会，专门面向大龄失业人员。",
        ("举办家门口招聘会两场，帮助不少于50名大龄失业人员实现再就业",),
        ("摸清各村居大龄失业人员底数，建立就业需求台账", "走访辖区企业征集适合大龄人员的岗位",
         "对有意愿人员开展免费技能培训"),
        "镇劳动保障事务所",
        ("已完成全镇大龄失业人员摸底，登记求职人员126人",
         "首场招聘会已举办，32家企业提供岗位410个，现场达成意向67人"),
        "两场招聘会均已举办，58名大龄失业人员实现再就业，就业需求台账实行动态更新",
        ("区人力资源和社会保障局", "请支持开发公益性岗位并安排职业技能培训补贴名额",
         "已同意安排培训补贴名额60个、公益性岗位20个"),
    ),
    _Template(
        "Help for shops hurt by the market road works", Area.DEVELOPMENT, Level.VILLAGE, Kind.OPINION,
        ("门口道路施工封了三个月，店里生意一落千丈，房租还要照交。", "施工围挡把店门都挡住了，顾客进不来。"),
        "建议施工围挡留出通道，并对受影响商户适当减免租金。",
        ("施工期间沿街商户出入通道畅通", "协调减免受影响商户一个月租金"),
        ("督促施工单位调整围挡，每50米留出人行通道", "与房东集体协商减免租金", "设置临时指示牌引导顾客"),
        "镇经济发展办公室",
        ("已约谈施工单位，围挡调整方案确定", "已与8户房东达成减租协议，临时指示牌设置到位"),
        "围挡已调整并留出通道，23户受影响商户获得一个月租金减免",
        ("镇建设管理办公室", "请督促施工单位调整围挡、留出人行通道", "已约谈施工单位，一周内完成围挡调整"),
    ),
    _Template(
        "Compensation and resettlement housing for the Meipu plot", Area.DEVELOPMENT, Level.TOWN,
        Kind.OPINION,
        ("湄浦村地块征收已经两年，补偿款还有一部分没到位。",
         "动迁安置房迟迟不开工，我们在外面租房已经两年了。"),
        "建议公开安置房建设进度，定期向村民通报。",
        ("公开补偿款发放和安置房建设进度，按月向村民通报", "剩余补偿款按程序审批后全部发放"),
        ("梳理未到位补偿款明细，逐户核对", "在村务公开栏按月公布安置房建设进度", "协调区征收事务所加快审批"),
        "镇房屋征收事务所",
        ("未到位补偿款已逐户核对，涉及37户", "安置房建设进度已在村务公开栏按月公布"),
        "剩余补偿款已全部发放到户，安置房地块完成开工前准备并按月公示进度",
        ("区房屋征收事务所", "请加快剩余补偿款审批", "剩余款项已列入本季度审批计划"),
        "安置房地块规划调整须报区、市两级审批，短期内无法开工。镇里先按月公开进度，剩余补偿款按程序审批后发放，"
        "待规划批复后重新提交民情分析会研究。",
    ),
    _Template(
        "Skills classes for rural women", Area.DEVELOPMENT, Level.TOWN, Kind.OPINION,
        ("村里妇女想学点手艺在家门口就业，不知道去哪里学。",
         "孩子上学后白天有空，想学育婴、家政，找不到培训班。"),
        "建议镇妇联和社区学校合作开设家政、育婴培训班。",
        ("开设家政、育婴培训班两期，培训不少于80人",),
        ("镇妇联牵头摸底培训需求", "与社区学校合作安排场地和师资", "培训合格者推荐到家政企业就业"),
        "镇妇女联合会",
        ("培训需求摸底完成，报名92人", "第一期育婴培训班已开班，学员46人"),
        "两期培训班结业，86人取得证书，其中31人已在家政企业就业",
    ),
    _Template(
        "Letting the empty collective warehouses", Area.DEVELOPMENT, Level.VILLAGE, Kind.OPINION,
        ("村集体仓库空置一年多了，村民分红少了不少。", "仓库空着没人管，还被人堆了垃圾。"),
        "建议对空置仓库统一公开招租，招租结果张榜公布。",
        ("空置仓库全部公开招租，招租过程和结果公开",),
        ("委托第三方评估租金底价", "在村务公开栏和镇集体资产交易平台公开招租",
         "招租结果张榜公布，租金收入纳入村级账目"),
        "镇农村经营管理站",
        ("租金评估完成，招租公告已发布", "已有3家企业报名参与竞租"),
        "4处空置仓库全部租出，年租金增加约42万元，招租结果已张榜公布",
    ),
    _Template(
        "Credit for the vegetable co-operatives", Area.DEVELOPMENT, Level.TOWN, Kind.DIFFICULTY,
        ("合作社想扩建蔬菜大棚，银行贷款手续太难办。", "种植户周转资金紧张，化肥农药只能赊账。"),
        "建议镇里牵线银行推出合作社专项贷款。",
        ("为有需求的合作社落实专项信贷支持",),
        ("摸清合作社融资需求", "牵线区农商银行推出专项贷款产品", "镇农业服务中心协助准备贷款材料"),
        "镇农业服务中心",
        ("已摸清7家合作社融资需求，合计约420万元", "银企对接会已召开，5家合作社提交申请"),
        "5家合作社获得专项贷款共计360万元，大棚扩建已开工",
        ("区农商银行杨行支行", "请为蔬菜合作社提供专项信贷支持",
         "已推出合作社专项贷款产品，单户额度最高100万元"),
    ),
    _Template(
        "Broadband for the small firms of Beizong", Area.DEVELOPMENT, Level.VILLAGE, Kind.OPINION,
        ("北宗村的小企业网络信号差，宽带一直装不进来。", "厂里接单全靠网络，信号时有时无，耽误生意。"),
        "建议协调通信运营商把光纤铺到村里的企业集中区。",
        ("企业集中区光纤全覆盖，网络稳定",),
        ("排查企业集中区网络覆盖情况", "协调运营商铺设光纤并新建基站", "施工期间做好道路开挖协调"),
        "镇经济发展办公室",
        ("网络覆盖排查完成，涉及企业24家", "光纤铺设施工已开始"),
        "企业集中区光纤已全覆盖，新建基站1座，24家企业宽带全部开通",
        ("中国电信宝山分公司", "请在北宗村企业集中区铺设光纤并新建基站", "已纳入建设计划，施工队本月进场"),
    ),
    # -- environment (城乡环境) --
    _Template(
        "Cleaning up the Yangbei creek", Area.ENVIRONMENT, Level.VILLAGE, Kind.OPINION,
        ("杨北河道发黑发臭，夏天蚊子特别多。", "河边有人倒垃圾，水面的漂浮物没人捞。"),
        "建议落实河长制，定期保洁并公布河长电话。",
        ("河道消除黑臭，水面漂浮物日产日清",),
        ("清淤疏浚河道", "排查沿河排污口并截污纳管", "设立河长公示牌，公布河长电话"),
        "镇水务管理站",
        ("沿河排污口排查完成，发现直排口5处", "清淤施工已完成一半，河长公示牌已设立"),
        "清淤疏浚完成，5处直排口全部截污纳管，河道黑臭消除，保洁队伍每日巡河",
        ("区水务局", "请安排河道清淤疏浚资金和排污口排查支持", "已纳入区年度清淤计划，资金已下达"),
    ),
    _Template(
        "More waste-sorting points in the old estate", Area.ENVIRONMENT, Level.GRID, Kind.OPINION,
        ("小区垃圾箱房太少，垃圾满出来了也没人清。", "垃圾分类点离我家楼下太近，夏天味道很大。"),
        "建议增设定时定点投放点，并安排志愿者值守。",
        ("增设投放点，箱房每日清运两次，异味明显减少",),
        ("新增定时定点投放点2处", "箱房加装除臭喷淋设施", "组织志愿者在投放时段值守"),
        "镇环境卫生管理所",
        ("新投放点选址已征求楼组意见", "两处新投放点已建成，除臭喷淋设施已安装"),
        "新增投放点2处，清运频次增至每日两次，志愿者每日值守，异味问题解决",
    ),
    _Template(
        "Dust and night-time lorries at the building site by the school", Area.ENVIRONMENT, Level.VILLAGE,
        Kind.OPINION,
        ("学校旁边的工地扬尘太大，窗户都不敢开。", "渣土车半夜运输，噪音吵得人睡不着。"),
        "建议工地安装喷淋降尘设施，夜间禁止渣土运输。",
        ("工地扬尘达标，夜间22时后停止渣土运输",),
        ("督促工地安装围挡喷淋和车辆冲洗设施", "城管执法队夜间巡查", "约谈施工单位，违规即处罚"),
        "镇城市管理综合执法队",
        ("已约谈施工单位，喷淋设施安装完毕", "夜间巡查发现违规运输2次，已依法处罚"),
        "工地喷淋降尘和车辆冲洗设施运行正常，夜间渣土运输已停止，连续一个月无投诉",
    ),
    _Template(
        "Illegal dumping at the village entrance", Area.ENVIRONMENT, Level.VILLAGE, Kind.OPINION,
        ("村口空地有人偷倒建筑垃圾，堆得像小山一样。", "晚上总有车来倒垃圾，灰尘大，还挡了路。"),
        "建议在村口安装监控，查处偷倒行为。",
        ("清运存量建筑垃圾，杜绝偷倒",),
        ("组织清运存量建筑垃圾", "村口安装监控探头和限高杆", "联合派出所查处偷倒车辆"),
        "镇城市管理综合执法队",
        ("存量建筑垃圾已清运约300吨", "监控探头和限高杆已安装"),
        "存量垃圾全部清运，监控和限高设施投入使用，查处偷倒车辆3辆",
        ("镇环境卫生管理所", "请安排车辆清运村口存量建筑垃圾", "已安排清运车辆，分三批完成"),
    ),
    _Template(
        "Noise and smoke from the night market", Area.ENVIRONMENT, Level.VILLAGE, Kind.DISPUTE,
        ("夜市摊位开到凌晨两点，噪音和油烟扰民。", "夜市散场后满地垃圾，第二天早上还有味道。"),
        "建议规定夜市经营时间，统一安装油烟净化设备。",
        ("夜市23时前收摊，油烟达标排放，散场后及时保洁",),
        ("与摊主签订经营承诺书，明确经营时段", "统一配置油烟净化设备", "安排保洁员散场后清扫"),
        "镇城市管理综合执法队",
        ("已与46户摊主签订经营承诺书", "油烟净化设备配置完成"),
        "夜市23时前收摊，油烟净化设备全部使用，散场保洁到位，周边居民投诉明显减少",
    ),
    _Template(
        "Restoring the green space in Yangtai", Area.ENVIRONMENT, Level.GRID, Kind.OPINION,
        ("小区绿地被人占了种菜，环境又脏又乱。", "绿地里堆满杂物，老鼠很多。"),
        "建议恢复绿化，并在边角地块建一个口袋公园。",
        ("清除毁绿种菜和堆物，恢复绿化",),
        ("张贴告知书，限期自行清除", "组织清除堆物并补种绿化", "利用边角地块建设口袋公园"),
        "镇绿化市容管理所",
        ("告知书已张贴，大部分居民已自行清除", "补种绿化已完成，口袋公园开始施工"),
        "毁绿种菜和堆物全部清除，补种绿化1200平方米，口袋公园建成开放",
    ),
    _Template(
        "Odour from the waste transfer station", Area.ENVIRONMENT, Level.TOWN, Kind.OPINION,
        ("垃圾中转站臭味很大，希望搬走。", "中转站的车进进出出，路上都是滴下来的污水。"),
        "建议中转站搬迁，搬迁前先加强除臭和密闭作业。",
        ("中转站密闭作业，异味和滴漏明显减少",),
        ("每日除臭两次", "改造密闭卸料设施", "清运车辆加装防滴漏装置"),
        "镇环境卫生管理所",
        ("除臭频次已增加至每日两次", "密闭卸料设施改造方案已确定"),
        "密闭卸料设施改造完成，清运车辆加装防滴漏装置，异味明显减轻",
        None,
        "中转站搬迁需纳入区环卫设施规划并另行选址，短期内无法实施。镇里已要求每日除臭、密闭作业，"
        "规划调整后再提交民情分析会研究。",
    ),
    _Template(
        "Cleaning the old-market public toilet", Area.ENVIRONMENT, Level.GRID, Kind.OPINION,
        ("老菜场的公厕太脏，好几天都没人打扫。", "公厕的水龙头坏了，洗手都洗不了。"),
        "建议公厕安排专人保洁，并公布管理员电话。",
        ("公厕每日保洁不少于三次，设施完好",),
        ("安排专职保洁员", "维修水龙头和冲水设施", "张贴管理员电话接受监督"),
        "镇环境卫生管理所",
        ("专职保洁员已到岗", "水龙头和冲水设施已维修"),
        "公厕保洁每日三次，设施完好，管理员电话已公示",
    ),
    # -- public security (社会稳定) --
    _Template(
        "Safe charging for electric bikes", Area.SECURITY, Level.VILLAGE, Kind.OPINION,
        ("楼道里有人私拉电线给电瓶车充电，很危险。", "电瓶车停在楼道里充电，万一起火大家都跑不掉。"),
        "建议在小区建集中充电桩和车棚。",
        ("建成集中充电车棚，楼道充电清零",),
        ("选址建设集中充电车棚", "开展楼道堆物和飞线充电清理", "消防宣传进楼组"),
        "镇平安办",
        ("充电车棚选址已征求居民意见", "车棚主体建成，等待电力增容"),
        "集中充电车棚建成投用，充电口120个，楼道飞线充电全部清除",
        ("国网宝山供电公司杨行供电所", "请支持小区充电车棚电力增容", "增容方案已完成，两周内施工"),
    ),
    _Template(
        "Traffic lights at the school crossing", Area.SECURITY, Level.TOWN, Kind.OPINION,
        ("学校门口上下学时车太多，孩子过马路很危险。", "校门口的车开得很快，也没有斑马线。"),
        "建议在校门口路口设红绿灯和护学岗。",
        ("校门口路口设置信号灯和斑马线，上下学时段有人护学",),
        ("协调交警设置信号灯和限速标志", "施划斑马线", "组织家长志愿者和民警设立护学岗"),
        "镇平安办",
        ("斑马线已施划，家长志愿者护学岗已上岗", "信号灯设备已到货"),
        "信号灯和限速标志已投用，上下学时段民警和志愿者护学",
        ("宝山公安分局交警支队杨行中队", "请在校门口路口设置信号灯和限速标志",
         "已设置信号灯，上下学时段安排警力护学"),
    ),
    _Template(
        "Overcrowded rented flats", Area.SECURITY, Level.GRID, Kind.DISPUTE,
        ("隔壁一套房子住了二十多个人，进进出出，很不安全。", "群租房里的人半夜吵闹，楼道里堆满东西。"),
        "建议加强出租房屋管理，整治群租。",
        ("整治群租房，规范出租房屋登记",),
        ("逐户排查出租房屋", "联合派出所、城管整治群租", "督促房东办理租赁登记"),
        "镇综合治理中心",
        ("已排查出租房屋318户，发现群租12户", "已整治群租9户"),
        "12户群租全部整改，出租房屋登记率达到100%",
        ("杨行派出所", "请派员参加群租房联合整治", "已安排社区民警全程参加"),
    ),
    _Template(
        "Order on the old street at night", Area.SECURITY, Level.TOWN, Kind.OPINION,
        ("老街晚上有人聚众喝酒闹事，居民不敢出门。", "老街晚上人杂，治安让人担心。"),
        "建议加强老街夜间巡逻，增设监控。",
        ("老街夜间治安好转，群众安全感提升",),
        ("派出所和平安志愿者夜间联合巡逻", "老街增设监控探头10个", "修复损坏路灯"),
        "镇平安办",
        ("夜间联合巡逻已开始，每晚两班", "新增监控探头已安装6个"),
        "夜间巡逻常态化，新增监控10个，损坏路灯全部修复，老街治安案件明显下降",
        ("杨行派出所", "请安排警力参与老街夜间联合巡逻", "已安排巡逻警力，每晚两班"),
    ),
    _Template(
        "Mediation of a boundary dispute between neighbours", Area.SECURITY, Level.VILLAGE, Kind.DISPUTE,
        ("邻居翻建房屋占了我家通道，协商了好几次都不行。", "两家为一堵围墙闹了快一年，差点动手。"),
        "建议请村里的调解员上门，把事情说清楚。",
        ("双方达成调解协议，通道恢复通行",),
        ("司法所和村调解委员会上门调解", "请测绘单位复核宅基地边界", "达成协议后督促履行"),
        "镇司法所",
        ("已上门调解两次，边界复核已委托", "边界复核结果已出具，双方基本认可"),
        "双方签订调解协议，围墙后退1.2米，通道恢复通行",
    ),
    _Template(
        "Protecting elderly residents from fraud", Area.SECURITY, Level.TOWN, Kind.DISASTER,
        ("家里老人被骗买保健品，花了好几万。", "有人冒充公检法给老人打电话，差点把钱转出去。"),
        "建议社区经常开展防诈骗宣传，子女和老人一起参加。",
        ("防诈骗宣传覆盖各村居，老年人受骗案件下降",),
        ("民警进村居开展防诈骗讲座", "在老年活动室张贴案例", "建立重点老人结对提醒机制"),
        "镇综合治理中心",
        ("防诈骗讲座已开展12场", "重点老人结对提醒名单已建立"),
        "防诈骗宣传覆盖全部村居，结对提醒老人420名，帮助追回被骗款项3笔",
        ("杨行派出所", "请安排民警到各村居开展防诈骗讲座", "已排定讲座计划，每村居至少一场"),
    ),
    _Template(
        "Flooding in the railway underpass", Area.SECURITY, Level.TOWN, Kind.DISASTER,
        ("暴雨时地道积水很深，车子熄火，差点出事。", "地道一下雨就淹，行人只能绕很远的路。"),
        "建议地道加装积水警示和抽水设备。",
        ("地道积水时有警示、有封闭、有抽排",),
        ("加装积水警示牌和水位监测", "配置移动抽水泵", "制定暴雨封闭预案"),
        "镇建设管理办公室",
        ("积水警示牌和水位监测已安装", "移动抽水泵已配置到位"),
        "积水警示、移动抽排和暴雨封闭预案全部落实，汛期未再发生车辆熄火",
        ("区水务局", "请评估地道排水泵站扩容", "已列入排水设施改造计划"),
        "地道排水泵站扩容需区水务局立项改造，短期内无法完成。镇里先落实积水警示和移动抽排，"
        "泵站改造立项后重新提交民情分析会研究。",
    ),
    # -- daily life (人民生活) --
    _Template(
        "A wet market near the new estates", Area.LIVELIHOOD, Level.TOWN, Kind.OPINION,
        ("新小区附近没有菜场，买菜要骑车二十分钟。", "老人买菜太不方便，只能去很远的地方。"),
        "建议在新小区周边建标准化菜市场。",
        ("开设临时便民菜点，启动标准化菜市场建设",),
        ("选址开设临时便民菜点", "推进标准化菜市场规划建设", "组织平价蔬菜进社区"),
        "镇经济发展办公室",
        ("临时便民菜点已选址", "临时便民菜点开业，每日供应时间6时至19时"),
        "临时便民菜点运营正常，标准化菜市场已完成立项",
        None,
        "标准化菜市场需调整地块规划，今年内无法建成。镇里先开设临时便民菜点，规划调整完成后重新提交民情分析会研究。",
    ),
    _Template(
        "Day care and meals for the elderly", Area.LIVELIHOOD, Level.VILLAGE, Kind.DIFFICULTY,
        ("老人白天家里没人照顾，希望村里有日间照料中心。", "我们年纪大了，一日三餐做饭很困难。"),
        "建议开办老年助餐点，给高龄老人送餐上门。",
        ("建成日间照料中心和老年助餐点",),
        ("利用村委会闲置用房改建日间照料中心", "引入助餐服务企业", "高龄独居老人送餐上门"),
        "镇社会事务管理办公室",
        ("改建方案已确定，施工已开始", "助餐服务企业已确定"),
        "日间照料中心和助餐点已开业，日均就餐老人86人，送餐上门23人",
    ),
    _Template(
        "Relief for families hit by serious illness", Area.LIVELIHOOD, Level.TOWN, Kind.DIFFICULTY,
        ("老伴得了大病，医药费把积蓄都花光了。", "孩子得了重病，报销以后自己还要承担很多。"),
        "建议设立大病救助专项资金，提高报销比例。",
        ("设立大病救助专项资金，困难家庭及时得到救助",),
        ("调整镇合作医疗政策，提高报销比例", "设立全镇大病救助专项资金", "逐户排查因病致贫家庭"),
        "镇社会救助事务所",
        ("因病致贫家庭排查完成，共43户", "大病救助专项资金已设立"),
        "43户因病致贫家庭全部获得救助，合作医疗报销比例提高10个百分点",
        ("区医疗保障局", "请支持提高大病医疗费用报销比例", "已同意按政策上限执行"),
    ),
    _Template(
        "Lifts for six-storey blocks", Area.LIVELIHOOD, Level.TOWN, Kind.DIFFICULTY,
        ("住在六楼，年纪大了爬楼太难，希望加装电梯。", "腿脚不好，一个月都下不了一次楼。"),
        "建议政府补贴老公房加装电梯。",
        ("完成加装电梯意愿征询，符合条件的楼栋启动加装",),
        ("逐栋征询加装意愿", "协助业主办理审批手续", "落实市、区补贴政策"),
        "镇房屋管理办公室",
        ("已完成32个楼栋意愿征询", "4个楼栋达成一致意见，进入审批"),
        "首批4台电梯开工建设，其余楼栋持续征询意见",
        None,
        "加装电梯需楼栋全体业主同意并经区级审批，本年度无法普遍实施。镇里已将需求登记备案，逐栋征询意见，"
        "条件成熟后重新提交民情分析会研究。",
    ),
    _Template(
        "Water pressure on the upper floors", Area.LIVELIHOOD, Level.VILLAGE, Kind.DIFFICULTY,
        ("家住高层，早晚用水高峰水压不够，常常没水。", "热水器因为水压低打不着火。"),
        "建议检修小区加压泵站。",
        ("高峰时段高层供水水压正常",),
        ("排查小区二次供水设施", "更换老化加压泵", "建立加压泵站定期巡检制度"),
        "镇建设管理办公室",
        ("二次供水设施排查完成", "新加压泵已订货"),
        "老化加压泵已更换，高峰时段高层水压恢复正常",
        ("宝山自来水公司", "请排查小区加压泵站并更换老化设备", "已更换加压泵2台"),
    ),
    _Template(
        "A bus shelter at the village stop", Area.LIVELIHOOD, Level.VILLAGE, Kind.OPINION,
        ("公交站没有候车亭，下雨天只能淋着等车。", "站台没有座椅，老人等车很辛苦。"),
        "建议在公交站建候车亭，放几张座椅。",
        ("建成候车亭并配置座椅",),
        ("协调公交公司确定候车亭方案", "施工建设候车亭", "配置座椅和线路牌"),
        "镇建设管理办公室",
        ("候车亭方案已确定", "候车亭施工已完成主体"),
        "候车亭建成使用，配置座椅和线路牌",
        ("宝山巴士公司", "请同意在村口站点建设候车亭", "同意并提供标准图纸"),
    ),
    _Template(
        "Leaking roofs in the old housing", Area.LIVELIHOOD, Level.VILLAGE, Kind.DIFFICULTY,
        ("老公房屋顶漏水，下雨天家里要拿盆接水。", "顶楼墙面发霉，孩子一直咳嗽。"),
        "建议对老公房屋顶统一做防水维修。",
        ("漏水楼栋屋顶防水维修完成",),
        ("排查漏水楼栋", "申请维修资金", "组织施工并请居民监督"),
        "镇房屋管理办公室",
        ("排查漏水楼栋15栋", "维修资金已申请，施工单位进场"),
        "15栋楼屋顶防水维修完成，经雨季检验无渗漏",
        ("区房屋管理局", "请支持老旧小区屋顶防水维修资金", "已拨付专项维修资金"),
    ),
    _Template(
        "Longer hours at the community clinic", Area.LIVELIHOOD, Level.VILLAGE, Kind.OPINION,
        ("社区卫生服务站下午四点就关门，上班的人看不上病。", "晚上孩子发烧，只能跑很远的医院。"),
        "建议卫生服务站延长开放时间，周末也开门。",
        ("卫生服务站延时服务，周末开放",),
        ("调整排班，工作日延长至20时", "周末安排半天门诊", "公布服务时间和咨询电话"),
        "镇社区卫生服务中心",
        ("排班方案已调整", "延时门诊已试运行两周"),
        "卫生服务站工作日开放至20时，周六上午开诊，服务时间已公示",
    ),
    # -- culture and education (文化教育) --
    _Template(
        "A culture and sports centre for the community", Area.CULTURE, Level.TOWN, Kind.OPINION,
        ("社区没有活动场所，老人只能在路边打牌。", "孩子放假没有地方活动，只能在家看电视。"),
        "建议建设社区文体活动中心。",
        ("建成社区文体活动中心并向居民开放",),
        ("利用闲置厂房改建文体中心", "配置图书室、健身房和多功能厅", "成立居民自治管理小组"),
        "镇文化体育服务中心",
        ("改建设计方案已公示", "改建工程已完成主体"),
        "社区文体活动中心建成开放，日均接待居民300余人次",
        None,
        "文体中心选址涉及闲置厂房收储，需区规划部门审批，本年度无法建成。镇里先开放村居活动室，"
        "审批完成后重新提交民情分析会研究。",
    ),
    _Template(
        "After-school care for working parents", Area.CULTURE, Level.TOWN, Kind.OPINION,
        ("双职工家庭孩子放学没人接，希望有课后看护班。", "孩子放学后一个人在家，很不放心。"),
        "建议利用社区活动室开办课后看护班，请志愿者辅导作业。",
        ("开办课后看护班，覆盖有需求的家庭",),
        ("摸底课后看护需求", "利用社区活动室开班", "组织大学生志愿者辅导作业"),
        "镇社会事业发展办公室",
        ("需求摸底完成，报名学生140人", "三个看护点已开班"),
        "课后看护班在5个村居开办，服务学生152人",
    ),
    _Template(
        "Weekend opening of the town library", Area.CULTURE, Level.TOWN, Kind.OPINION,
        ("镇图书馆周末不开门，上班的人根本去不了。", "图书馆的书太旧了，新书很少。"),
        "建议图书馆周末开放，每季度更新图书。",
        ("图书馆周末开放，新增图书",),
        ("调整开放时间，周末全天开放", "每季度采购新书", "开通图书通借通还"),
        "镇文化体育服务中心",
        ("周末开放方案已确定", "新采购图书2000册已上架"),
        "图书馆周末全天开放，新增图书2000册，开通通借通还",
    ),
    _Template(
        "Volume limits for square dancing", Area.CULTURE, Level.GRID, Kind.DISPUTE,
        ("广场舞音乐太响，晚上影响休息。", "跳舞的人和休息的人经常吵起来。"),
        "建议划定广场舞时段和音量限制。",
        ("广场舞定时段、限音量，邻里矛盾化解",),
        ("与舞蹈队协商活动公约", "配置音量监测设备", "调整活动场地远离住宅楼"),
        "镇文化体育服务中心",
        ("活动公约已签订", "音量监测设备已安装"),
        "广场舞活动在19时至21时进行，音量达标，相关投诉已清零",
    ),
    _Template(
        "Kindergarten places for the new estates", Area.CULTURE, Level.TOWN, Kind.DIFFICULTY,
        ("新小区孩子多，幼儿园学位不够，要到很远的地方上学。", "孩子没排上幼儿园，只能请老人在家带。"),
        "建议在新小区配套建设幼儿园。",
        ("协调周边幼儿园增加学位，推进新建幼儿园规划",),
        ("统计适龄儿童数量", "协调周边幼儿园挖潜扩班", "推进新建幼儿园立项"),
        "镇社会事业发展办公室",
        ("适龄儿童统计完成", "周边幼儿园已新增两个班"),
        "周边幼儿园新增学位60个，新建幼儿园已完成立项",
        ("区教育局", "请统筹新小区配套幼儿园规划", "已列入区学前教育设施规划"),
        "新建幼儿园需区教育局统筹规划和立项，本年度无法新增园所。镇里已协调周边幼儿园挖潜增加学位，"
        "规划落地后重新提交民情分析会研究。",
    ),
    _Template(
        "Repairing the estate's fitness equipment", Area.CULTURE, Level.GRID, Kind.OPINION,
        ("小区健身器材坏了一年了，没人来修。", "健身器材的螺丝松了，孩子玩很危险。"),
        "建议定期检修健身器材，坏了及时更换。",
        ("损坏健身器材全部修复或更换",),
        ("排查全镇健身点器材", "维修或更换损坏器材", "建立定期巡检制度"),
        "镇文化体育服务中心",
        ("排查健身点38个，损坏器材56件", "已维修更换41件"),
        "56件损坏器材全部修复或更换，建立每月巡检制度",
    ),
    _Template(
        "More places at the school for the elderly", Area.CULTURE, Level.TOWN, Kind.OPINION,
        ("老年学校名额太少，一直报不上名。", "想学书法和智能手机，老年学校没有这些课。"),
        "建议老年学校扩大招生，开设智能手机课程。",
        ("老年学校扩招并开设智能手机课程",),
        ("增设村居教学点", "新开书法、智能手机课程", "招募志愿者教师"),
        "镇社会事业发展办公室",
        ("新增教学点3个", "智能手机课程已开班"),
        "老年学校招生增加200人，新开课程4门",
    ),
    # -- cadres' conduct (干部作风) --
    _Template(
        "Faster service at the affairs centre", Area.CONDUCT, Level.TOWN, Kind.OPINION,
        ("办事窗口排队太久，材料要跑好几趟。", "窗口工作人员说不清要带什么材料，白跑一趟。"),
        "建议推行一次告知、一窗通办。",
        ("推行一次告知、一窗通办，群众办事最多跑一次",),
        ("梳理办事事项清单和材料清单", "推行一窗通办和预约服务", "开展窗口服务作风整顿"),
        "镇社区事务受理服务中心",
        ("办事事项和材料清单已公布", "一窗通办已试运行"),
        "一窗通办全面运行，平均等候时间缩短至10分钟以内",
    ),
    _Template(
        "Clear disclosure of village accounts", Area.CONDUCT, Level.VILLAGE, Kind.OPINION,
        ("村里账目公开不及时，公开了也看不懂。", "村里的开支到底花在哪里，村民都不清楚。"),
        "建议村务账目按月公开，并请村民代表监督。",
        ("村级账目按月公开，通俗易懂",),
        ("统一村务公开格式", "每月5日前公开上月账目", "村务监督委员会逐项审核"),
        "镇农村经营管理站",
        ("村务公开格式已统一", "首次按新格式公开已完成"),
        "各村账目按月公开，村务监督委员会审核签字后张榜",
    ),
    _Template(
        "Village cadres who can be found", Area.CONDUCT, Level.VILLAGE, Kind.OPINION,
        ("村干部很少到组里来，有事找不到人。", "打村委会电话经常没人接。"),
        "建议公布村干部联系电话和值班表。",
        ("村干部联系方式和值班表公开，定期下组走访",),
        ("公布村干部联系电话和值班表", "村干部每月下组走访不少于2次", "镇党建办定期抽查"),
        "镇党建办公室",
        ("联系电话和值班表已公布", "走访记录已建立台账"),
        "村干部值班表公开，每月下组走访落实，抽查接通率100%",
    ),
    _Template(
        "Answers to hotline complaints", Area.CONDUCT, Level.TOWN, Kind.OPINION,
        ("打了三次热线，反映的问题一直没人回复。", "热线工单被退回，说不归这里管。"),
        "建议热线工单限时办结，办结后回访。",
        ("热线工单限时办结，办结回访率100%",),
        ("建立热线工单限时办结制度", "办结工单逐一回访", "对推诿工单通报批评"),
        "镇城市运行管理中心",
        ("限时办结制度已出台", "上月工单回访率98%"),
        "热线工单按时办结率99%，回访率100%，推诿情况通报2起",
    ),
    _Template(
        "Fair review of subsistence allowances", Area.CONDUCT, Level.TOWN, Kind.OPINION,
        ("低保评审不公开，有人条件很好也在吃低保。", "我家条件困难，申请低保一直没批下来。"),
        "建议低保评审公开公示，接受群众监督。",
        ("低保评审公开透明，不符合条件的及时退出",),
        ("全面复核低保对象", "评审结果在村居公示", "纪委监督评审过程"),
        "镇社会救助事务所",
        ("低保对象复核完成，发现不符合条件5户", "评审公示制度已建立"),
        "不符合条件的5户已退出，新纳入困难家庭8户，评审结果全部公示",
    ),
    _Template(
        "Conduct of the urban management officers", Area.CONDUCT, Level.TOWN, Kind.OPINION,
        ("城管执法态度粗暴，摊主的东西说收就收。", "执法时不出示证件，也不说明理由。"),
        "建议城管执法全程记录，文明执法。",
        ("执法全程记录，文明执法，投诉下降",),
        ("执法人员配备执法记录仪", "开展文明执法培训", "镇纪委受理执法投诉"),
        "镇纪委",
        ("执法记录仪已配备", "文明执法培训已完成"),
        "执法全程记录，文明执法培训全覆盖，执法投诉下降70%",
    ),
    _Template(
        "Public tendering of village road works", Area.CONDUCT, Level.VILLAGE, Kind.OPINION,
        ("村里修路工程不知道是谁承包的，也没有公示。", "修好的路没几个月就坏了，质量有问题。"),
        "建议村级工程公开招标，完工后请村民代表验收。",
        ("村级工程公开招标、结果公示，质量问题整改",),
        ("村级工程一律进入镇招投标平台", "中标结果和工程款在村务公开栏公示", "村民代表参与验收"),
        "镇纪委",
        ("已核查近三年村级工程", "问题路段已责令施工单位返修"),
        "村级工程全部进入招投标平台，问题路段返修完成并经村民代表验收",
    ),
)  # fmt: skip


@dataclass(frozen=True)
class _Fix:
    """A small problem the grid fixes the same day (即知即改)."""

    title: str
    area: Area
    kind: Kind
    text: str
    department: str
    resolution: str


FIXES = (
    _Fix("Broken manhole cover on the lane", Area.SECURITY, Kind.DIFFICULTY,
         "路边窨井盖缺了一块，晚上走路很危险。", "镇市政养护所", "当天更换窨井盖，并检查了周边井盖"),
    _Fix("Fallen branches blocking the path", Area.ENVIRONMENT, Kind.DISASTER,
         "昨晚大风刮断的树枝挡住了小路，电瓶车过不去。", "镇绿化市容管理所", "当天清理断枝并修剪了危险树枝"),
    _Fix("Rubbish piled at the bridgehead", Area.ENVIRONMENT, Kind.OPINION,
         "桥头堆了一堆垃圾，好几天没人清。", "镇环境卫生管理所", "当天清运垃圾并冲洗了地面"),
    _Fix("Broken lock on the building door", Area.SECURITY, Kind.DIFFICULTY,
         "楼道单元门的门锁坏了，外人随便进出。", "镇物业管理服务中心", "当天更换了单元门锁"),
    _Fix("Leaking water pipe in the lane", Area.LIVELIHOOD, Kind.DIFFICULTY,
         "弄堂里自来水管漏水，路面全是水。", "镇供水服务站", "当天关阀抢修，下午恢复供水"),
    _Fix("Missing railing by the canal", Area.SECURITY, Kind.DIFFICULTY,
         "河边护栏断了一截，孩子在边上玩很危险。", "镇水务管理站", "当天修复了断裂的护栏"),
)  # fmt: skip

# What happens to each generic item of an analysis round, before the seed shuffles them.
WAVE_PLANS: tuple[tuple[str, ...], ...] = (
    ("closed", "closed", "closed", "late_closed", "late_closed", "reopened_closed", "reopened_open",
     "committee_village", "committee_town", "extended_closed", "in_progress", "handover_open", "revisited"),
    ("closed", "closed", "closed", "late_closed", "late_open", "committee_town", "reopened_closed",
     "reopened_open", "in_progress", "in_progress", "resolved_waiting", "registered"),
    ("closed", "closed", "late_open", "in_progress", "in_progress", "handover_open", "resolved_waiting",
     "opened", "registered"),
)  # fmt: skip
PAUSABLE = ("closed", "in_progress", "handover_open", "resolved_waiting")
VOICES_TOTAL = 110  # 80 opinions and 30 suggestions (Yanghang)
SUGGESTIONS_TOTAL = 30
LATE_VOICES = 6  # recorded after the last analysis meeting, waiting for the next one
FOLLOW_UPS = 2  # voices about items already being worked on, merged into them at the next meeting
LONG_RUNNING = ("in_progress", "handover_open", "committee_village", "committee_town")


@dataclass
class _Voice:
    """One voice to record: when, how, where, what, and who told whom."""

    day: int
    hour: int
    minute: int
    kind: Kind
    area: Area
    channel: Channel
    unit: str
    place: str
    text: str
    recorder: str
    contact: Contact
    id: UUID | None = None


@dataclass(frozen=True)
class _Round:
    """One resolution of an item and, when there is one, the evaluation meeting that judges it."""

    resolved: int
    evaluation: int | None
    passes: bool
    new_deadline: int | None = None


@dataclass
class _Dates:
    """The days an item's plan chose (day 0 is the story's March 3)."""

    deadline: int = 0
    rounds: list[_Round] = field(default_factory=list)
    extension: tuple[int, int] | None = None  # asked on, new deadline
    handover: int | None = None


@dataclass
class _Item:
    """A rectification item to be: its voices, its people, its plan; id and number once opened."""

    title: str
    area: Area
    level: Level
    horizon: Horizon
    description: str
    voices: list[_Voice]
    leader: str
    department: str
    village: str
    plan: str
    template: _Template | None = None
    dates: _Dates = field(default_factory=_Dates)
    id: UUID | None = None
    number: str | None = None
    coordinations: list[int] = field(default_factory=list)
    reopened: bool = False
    fixed_at_once: bool = False

    @property
    def ref(self) -> UUID:
        assert self.id is not None, f"{self.title} is not opened yet"
        return self.id


Action = Callable[[], None]


def _first_evaluation(day: int) -> int:
    """The first evaluation meeting on or after `day`."""
    for evaluation in EVALUATION_DAYS:
        if evaluation >= day:
            return evaluation
    raise AssertionError(f"no evaluation meeting after day {day}")


def _between(rng: random.Random, low: int, high: int) -> int:
    if low > high:
        raise AssertionError(f"empty range {low}..{high}")
    return rng.randint(low, high)


def _rate(verdicts: Sequence[Verdict]) -> float:
    return sum(1 for v in verdicts if v != Verdict.DISSATISFIED) / len(verdicts)


_HORIZON_ZH = {Horizon.IMMEDIATE: "即知即改", Horizon.NEAR: "近期", Horizon.MID: "中期", Horizon.LONG: "远期"}


class _Town:
    """Plans the town's six months as timed actions, then plays them in time order on the clock."""

    def __init__(self, workflow: Workflow, clock: FakeClock, *, seed: int, today: datetime) -> None:
        self.wf = workflow
        self.clock = clock
        self.seed = seed
        self.rng = random.Random(seed)
        self.origin = _origin(today)
        self.end = today.astimezone(UTC)
        self._queue: list[tuple[datetime, int, Action]] = []
        self._order = 0
        self._keys = 0
        self._slots: dict[str, int] = {}
        self.meetings: dict[str, UUID] = {}
        self.meeting_reps: dict[str, list[str]] = {}
        self.items: list[_Item] = []
        self.loose_voices: list[_Voice] = []
        self._taken: set[str] = {name for name, _ in LEADERS} | {WANG, ZHAO, CLERK, *HOTLINE}
        self.representatives = self._names(REPRESENTATIVES)
        self.members = self._names(MEMBERS - 2)
        # 8 villages x 6 grids, 13-14 members a grid (Zunyi: 10-20); Wang and Zhao in grid 4 of Yangbei.
        self.grid_members: dict[str, list[str]] = {}
        for index, member in enumerate(self.members):
            unit = self._grid(VILLAGES[index % len(VILLAGES)], 1 + (index // len(VILLAGES)) % 6)
            self.grid_members.setdefault(unit, []).append(member)
        self.grid_members[self._grid("杨北村", 4)] += [WANG, ZHAO]
        self.members += [WANG, ZHAO]
        self.dark_lane: _Item | None = None
        self.drain: _Item | None = None
        self.bus_line: _Item | None = None

    # -- time and the queue ---------------------------------------------------------------------

    def moment(self, day: int, hour: int, minute: int = 0) -> datetime:
        return _moment(self.origin, day, hour, minute)

    def due(self, day: int) -> datetime:
        """A deadline: the end of `day` in Beijing."""
        return self.moment(day, 23, 59)

    def at(self, day: int, hour: int, minute: int, action: Action) -> None:
        if not 0 <= day <= LAST_DAY:
            raise AssertionError(f"the demo plans day {day}, outside 0..{LAST_DAY}")
        self.at_moment(self.moment(day, hour, minute), action)

    def at_moment(self, when: datetime, action: Action) -> None:
        if when >= self.end:
            raise AssertionError(f"the demo plans {when:%Y-%m-%d %H:%M}, not before today")
        heapq.heappush(self._queue, (when, self._order, action))
        self._order += 1

    def run(self) -> None:
        """Play every action in time order; the clock only moves forward."""
        while self._queue:
            when, _, action = heapq.heappop(self._queue)
            if when > self.clock.now():
                self.clock.set(when)
            action()

    def key(self) -> str:
        """The next idempotency key: the seed and a counter, so ids are the same on every run."""
        self._keys += 1
        return f"demo/{self.seed}/{self._keys:05d}"

    def slot(self, meeting: str) -> int:
        """The next free place on a meeting's agenda."""
        index = self._slots.get(meeting, 0)
        self._slots[meeting] = index + 1
        return index

    # -- people and places ----------------------------------------------------------------------

    def _names(self, count: int) -> list[str]:
        """`count` made-up names, none used before (so no reporter shares a cadre's name)."""
        names: list[str] = []
        while len(names) < count:
            name = self.rng.choice(SURNAMES) + "".join(self.rng.sample(GIVEN, self.rng.choice((1, 2, 2))))
            if name not in self._taken:
                self._taken.add(name)
                names.append(name)
        return names

    @staticmethod
    def _grid(village: str, number: int) -> str:
        return f"{village}第{number}网格"

    def resident(self, unit: str) -> Contact:
        """A made-up reporter (personal data: it goes to the contact store, never into the log)."""
        (name,) = self._names(1)
        phone = f"1380013{self.rng.randint(0, 9999):04d}"  # around the well-known example number
        return Contact(name=name, phone=phone, address=f"{unit}{self.rng.randint(1, 60)}号")

    def voice(self, *, day: int, kind: Kind, area: Area, unit: str, text: str) -> _Voice:
        """A voice heard on `day` through a channel the seed chooses, by someone who records it."""
        channels, weights = zip(*CHANNELS, strict=True)
        channel: Channel = self.rng.choices(channels, weights)[0]
        if channel in (Channel.HOUSEHOLD_VISIT, Channel.SURVEY):
            recorder = self.rng.choice(self.grid_members[unit])
        elif channel in (Channel.RECEPTION, Channel.PROPOSAL):
            recorder = self.rng.choice(self.representatives)
        elif channel == Channel.DOWN_VISIT:
            recorder = self.rng.choice([name for name, _ in LEADERS if name != ZHANG])
        else:
            recorder = self.rng.choice(HOTLINE)
        return _Voice(
            day=day,
            hour=self.rng.randint(8, 19),
            minute=self.rng.randint(0, 59),
            kind=kind,
            area=area,
            channel=channel,
            unit=unit,
            place=f"{unit}{self.rng.randint(1, 40)}号附近",
            text=text,
            recorder=recorder,
            contact=self.resident(unit),
        )

    # -- commands, each with its idempotency key ------------------------------------------------

    @staticmethod
    def officer(name: str) -> Actor:
        return Actor(name, Role.OFFICER)

    def record(self, voice: _Voice) -> None:
        def act() -> None:
            result = self.wf.record_opinion(
                Actor(voice.recorder, Role.RECORDER),
                kind=voice.kind.value,
                area=voice.area.value,
                channel=voice.channel.value,
                unit=voice.unit,
                text=voice.text,
                place=voice.place,
                contact=voice.contact,
                key=self.key(),
            )
            voice.id = result.id

        self.at(voice.day, voice.hour, voice.minute, act)

    def hold(self, name: str, day: int, hour: int, kind: MeetingKind, unit: str, title: str) -> None:
        """Plan a meeting; items on its agenda refer to it by `name`."""
        leaders = [leader for leader, _ in LEADERS if not (leader == ZHANG and day > REPLAY_DAY)]
        reps = self.rng.sample(self.representatives, 40 if kind == MeetingKind.EVALUATION else 12)
        self.meeting_reps[name] = reps
        attendees = (leaders[:6] if kind == MeetingKind.EVALUATION else leaders) + reps

        def act() -> None:
            result = self.wf.hold_meeting(
                self.officer(CLERK),
                kind=kind.value,
                unit=unit,
                held_at=self.clock.now(),
                attendees=attendees,
                title=title,
                key=self.key(),
            )
            self.meetings[name] = result.id

        self.at(day, hour, 0, act)

    def decide(self, meeting: str, decision: str, item: _Item) -> None:
        self.wf.record_decision(
            self.officer(CLERK), self.meetings[meeting], decision=decision, issue=item.ref, key=self.key()
        )

    def open(
        self, item: _Item, meeting: str | None, *, route: Route, reason: str, answer: str | None
    ) -> None:
        """Open the item from its voices and route them; tell the reporters when `answer` is given."""
        meeting_id = self.meetings[meeting] if meeting else None
        actor = self.officer(CLERK) if meeting else self.officer(item.leader)
        result = self.wf.open_issue(
            actor,
            title=item.title,
            area=item.area.value,
            level=item.level.value,
            horizon=item.horizon.value,
            description=item.description,
            unit=self.unit_of(item),
            opinion_ids=[v.id for v in item.voices if v.id is not None],
            meeting_id=meeting_id,
            key=self.key(),
        )
        item.id, item.number = result.id, result.number
        for voice in item.voices:
            assert voice.id is not None
            self.wf.route_opinion(
                actor, voice.id, route=route.value, reason=reason, meeting_id=meeting_id, key=self.key()
            )
        if meeting:
            horizon = _HORIZON_ZH[item.horizon]
            self.decide(
                meeting, f"合并{len(item.voices)}条群众意见，立项为{horizon}整改项目：{item.title}", item
            )
        if answer:
            self.answer_all(item, answer)

    def unit_of(self, item: _Item) -> str:
        """Where the item belongs: its grid, its village, or the town, by level."""
        if item.level == Level.GRID:
            return item.voices[0].unit
        if item.level == Level.VILLAGE:
            return item.village
        return TOWN

    def answer_all(self, item: _Item, feedback: str) -> None:
        for voice in item.voices:
            assert voice.id is not None
            self.wf.answer_opinion(
                Actor(voice.recorder, Role.RECORDER), voice.id, feedback=feedback, key=self.key()
            )

    def assign(
        self,
        item: _Item,
        meeting: str | None,
        *,
        deadline: datetime,
        goals: Sequence[str],
        measures: Sequence[str],
        boards: Sequence[str] = (),
    ) -> None:
        """Give the item its one leader, then publish the assignment where people will see it."""
        meeting_id = self.meetings[meeting] if meeting else None
        self.wf.assign_leader(
            self.officer(CLERK if meeting else item.leader),
            item.ref,
            leader=item.leader,
            department=item.department,
            goals=list(goals),
            measures=list(measures),
            deadline=deadline,
            meeting_id=meeting_id,
            key=self.key(),
        )
        if meeting:
            when = deadline.astimezone(BEIJING)
            self.decide(meeting, f"由{item.leader}牵头、{item.department}负责，{when:%Y-%m-%d}前完成", item)
        fields = ["title", "area", "level", "leader", "department", "goals", "measures", "deadline"]
        for where in (*boards, REGISTER):
            self.wf.disclose(self.officer(CLERK), item.ref, fields=fields, where=where, key=self.key())
        self.watch(item)

    def watch(self, item: _Item) -> None:
        """Let the scheduler look at the item just after its deadline, as the overdue index would."""
        issue = self.wf.get_issue(item.ref)
        if issue.deadline is None or issue.on_committee_list:
            return
        remind = issue.deadline - REMINDER_LEAD + timedelta(minutes=1)
        if self.clock.now() < remind < self.end:
            self.at_moment(remind, partial(self.remind, item))
        check = issue.deadline + timedelta(minutes=5)
        if check <= self.clock.now() or check >= self.end:
            return

        def escalate() -> None:
            if self.wf.escalate_if_overdue(item.ref).detail.get("escalated"):
                self.watch(item)

        self.at_moment(check, escalate)

    def progress(self, item: _Item, note: str) -> None:
        self.wf.report_progress(self.officer(item.leader), item.ref, note=note, key=self.key())

    def disclose(self, item: _Item, fields: list[str], *, note: str | None = None) -> None:
        self.wf.disclose(
            self.officer(CLERK), item.ref, fields=fields, where=REGISTER, note=note, key=self.key()
        )

    def request_help(self, item: _Item, department: str, request: str) -> None:
        result = self.wf.request_coordination(
            self.officer(item.leader), item.ref, department=department, request=request, key=self.key()
        )
        item.coordinations.append(int(result.detail["coordination"]))

    def answer_help(self, item: _Item, answer: str) -> None:
        index = item.coordinations.pop(0)
        self.wf.answer_coordination(
            self.officer(item.leader), item.ref, index=index, answer=answer, key=self.key()
        )

    def remind(self, item: _Item) -> None:
        self.wf.remind_if_due(item.ref, lead=REMINDER_LEAD)

    def pause(self, item: _Item, reason: str) -> None:
        self.wf.pause_clock(self.officer(item.leader), item.ref, reason=reason, key=self.key())

    def resume(self, item: _Item) -> None:
        self.wf.resume_clock(self.officer(item.leader), item.ref, key=self.key())
        self.watch(item)

    def resolve(self, item: _Item, summary: str) -> None:
        self.wf.report_resolution(self.officer(item.leader), item.ref, summary=summary, key=self.key())

    def inspect(self, item: _Item, inspector: str, findings: str, *, confirmed: bool) -> None:
        self.wf.record_inspection(
            Actor(inspector, Role.RECORDER),
            item.ref,
            inspector=inspector,
            findings=findings,
            confirmed=confirmed,
            key=self.key(),
        )

    def hand_over(self, item: _Item, to: str, reason: str) -> None:
        self.wf.hand_over(self.officer(item.leader), item.ref, to=to, reason=reason, key=self.key())
        item.leader = to

    def votes(self, count: int, *, passes: bool, dissatisfied: int = 0, basically: int = 0) -> list[Verdict]:
        """`count` verdicts that meet the satisfaction target (`passes`) or fall short of it."""
        target = self.wf.satisfaction_target
        if passes:
            dissatisfied = 0
        else:
            while dissatisfied < count and (count - dissatisfied) / count >= target:
                dissatisfied += 1
        basically = min(basically, count - dissatisfied)
        verdicts = (
            [Verdict.DISSATISFIED] * dissatisfied
            + [Verdict.BASICALLY_SATISFIED] * basically
            + [Verdict.SATISFIED] * (count - dissatisfied - basically)
        )
        self.rng.shuffle(verdicts)
        return verdicts

    def evaluate(
        self,
        item: _Item,
        day: int,
        verdicts: list[Verdict],
        *,
        comments: dict[Verdict, str],
        new_deadline: datetime | None,
        outcome_answer: str | None,
    ) -> None:
        """Representatives rate the item at the evaluation meeting of `day`: closed, or reopened."""
        meeting = f"evaluation-{day}"
        evaluators = self.rng.sample(self.meeting_reps[meeting], len(verdicts))
        rate = _rate(verdicts)

        def act() -> None:
            meeting_id = self.meetings[meeting]
            for evaluator, verdict in zip(evaluators, verdicts, strict=True):
                self.clock.advance(timedelta(seconds=15))
                self.wf.record_evaluation(
                    self.officer(CLERK),
                    item.ref,
                    evaluator=evaluator,
                    verdict=verdict.value,
                    comment=comments.get(verdict),
                    meeting_id=meeting_id,
                    key=self.key(),
                )
            result = self.wf.conclude_evaluation(
                self.officer(CLERK),
                item.ref,
                new_deadline=new_deadline,
                meeting_id=meeting_id,
                key=self.key(),
            )
            if result.detail["outcome"] == "reopened":
                item.reopened = True
                self.decide(
                    meeting,
                    f"满意率{rate:.0%}，未达到{self.wf.satisfaction_target:.0%}，重新整改，牵头领导不变",
                    item,
                )
                self.disclose(item, ["outcome", "deadline"])
                self.watch(item)
            else:
                self.decide(meeting, f"满意率{rate:.0%}，评议通过，项目销号", item)
                if outcome_answer:
                    self.answer_all(item, outcome_answer)

        self.at_moment(self.moment(day, 9, 30) + timedelta(minutes=6 * self.slot(meeting)), act)

    # -- the plan -------------------------------------------------------------------------------

    def plan(self) -> None:
        """Plan the whole six months: meetings, the two stories, the generic items, the voices."""
        rounds = zip(ANALYSIS_DAYS, ASSIGNMENT_DAYS, EVALUATION_DAYS, strict=True)
        for number, (analysis, assignment, evaluation) in enumerate(rounds, start=1):
            self.hold(
                f"analysis-{analysis}",
                analysis,
                14,
                MeetingKind.ANALYSIS,
                TOWN,
                f"Yanghang town analysis meeting, round {number}",
            )
            self.hold(
                f"assignment-{assignment}",
                assignment,
                9,
                MeetingKind.ASSIGNMENT,
                TOWN,
                f"Yanghang town assignment meeting, round {number}",
            )
            self.hold(
                f"evaluation-{evaluation}",
                evaluation,
                9,
                MeetingKind.EVALUATION,
                TOWN,
                f"Yanghang town evaluation meeting, round {number}",
            )
        self.hold(
            "village-analysis",
            ANALYSIS_DAYS[0],
            9,
            MeetingKind.ANALYSIS,
            "杨北村",
            "Analysis meeting of Yangbei village",
        )
        self.dark_lane = self._dark_lane()
        self.drain = self._drain()
        self.bus_line = self._bus_line()
        self._generic()
        for item in self.items:
            for voice in item.voices:
                self.record(voice)
        for voice in self.loose_voices:
            self.record(voice)

    def _dark_lane(self) -> _Item:
        """SCENARIOS.md story 1; day 0 is the story's March 3."""
        grid = self._grid("杨北村", 4)
        said = (
            (
                WANG,
                Channel.HOUSEHOLD_VISIT,
                0,
                10,
                30,
                "7号楼后面的弄堂没有路灯，晚上一片漆黑，前几天12号的老人在那里摔了一跤。",
            ),
            (ZHAO, Channel.HOUSEHOLD_VISIT, 2, 15, 0, "7号楼后弄堂晚上太黑，孩子放学回家都不敢走。"),
            (ZHAO, Channel.HOUSEHOLD_VISIT, 2, 16, 10, "后弄堂没有路灯，老人晚上出门倒垃圾看不清路。"),
            (
                HOTLINE[0],
                Channel.HOTLINE,
                4,
                20,
                15,
                "来电反映：杨北村第4网格7号楼后面的弄堂没有路灯，已经有老人摔倒，希望尽快装灯。",
            ),
        )
        voices = [
            _Voice(
                day,
                hour,
                minute,
                Kind.DIFFICULTY,
                Area.SECURITY,
                channel,
                grid,
                f"{grid}7号楼后弄堂",
                text,
                recorder,
                self.resident(grid),
            )
            for recorder, channel, day, hour, minute, text in said
        ]
        item = _Item(
            DARK_LANE_TITLE,
            Area.SECURITY,
            Level.VILLAGE,
            Horizon.NEAR,
            "7号楼后弄堂没有路灯，有老人夜间摔倒。需供电公司迁移弄堂内电缆后安装路灯。",
            voices,
            ZHANG,
            "镇建设管理办公室",
            "杨北村",
            "story-1",
        )
        self.items.append(item)
        inspector = self.rng.choice(self.representatives)
        assignment = f"assignment-{ASSIGNMENT_DAYS[0]}"

        self.at(
            11,
            9,
            30,
            lambda: self.open(
                item,
                "village-analysis",
                route=Route.COORDINATE,
                reason="需供电公司迁移电缆，积极协调解决",
                answer="您反映的后弄堂路灯问题已在村民情分析会上研究，合并立项为近期整改项目，将由镇里指定领导牵头办理。",
            ),
        )
        self.at(
            17,
            9,
            30 + self.slot(assignment),
            lambda: self.assign(
                item,
                assignment,
                deadline=self.due(58),
                goals=["后弄堂路灯全部亮灯并通过验收"],
                measures=[
                    "协调供电公司迁移弄堂内电缆",
                    "新装路灯6盏并接入村级照明线路",
                    "安装完成后请党代表现场验收",
                ],
                boards=["杨北村村务公开栏"],
            ),
        )
        self.at(
            38,
            10,
            0,
            lambda: self.request_help(
                item, "国网宝山供电公司杨行供电所", "弄堂内有一段低压电缆需迁移，请安排停电和迁移施工"
            ),
        )
        self.at(46, 14, 0, lambda: self.answer_help(item, "已完成电缆迁移，具备路灯安装条件"))
        self.at(46, 16, 0, lambda: self.progress(item, "电缆迁移完成，路灯基础已浇筑，灯杆已订货"))
        # Day 58 (April 30) passes; just after midnight the scheduler escalates it to town (`watch`).
        self.at(
            64,
            10,
            0,
            lambda: self.hand_over(
                item, LI, f"{ZHANG}同志工作调动，本项目移交{LI}同志牵头，工作台账一并移交"
            ),
        )
        self.at(70, 15, 0, lambda: self.progress(item, "灯杆到货，开始安装"))
        self.at(83, 10, 0, lambda: self.resolve(item, "6盏路灯已安装并通电，后弄堂夜间照明恢复"))
        self.at(
            83,
            15,
            0,
            lambda: self.inspect(item, inspector, "现场查看6盏路灯全部亮灯，照度满足要求", confirmed=True),
        )
        self.at(83, 16, 0, lambda: self.disclose(item, ["progress", "resolution"]))
        self.evaluate(  # June: 17 satisfied, 1 basically, 2 dissatisfied -> 90% -> reopened under Li
            item,
            EVALUATION_DAYS[0],
            self.votes(20, passes=False, dissatisfied=2, basically=1),
            comments={Verdict.DISSATISFIED: "有一盏路灯已经不亮了"},
            new_deadline=self.due(130),
            outcome_answer=None,
        )
        self.at(108, 10, 0, lambda: self.progress(item, "排查发现1盏灯具进水损坏，正在更换并加装防水接线盒"))
        self.at(
            126, 10, 0, lambda: self.resolve(item, "故障灯具已更换并加装防水接线盒，6盏路灯连续两周正常亮灯")
        )
        self.at(126, 15, 0, lambda: self.inspect(item, inspector, "夜间复查6盏路灯全部正常", confirmed=True))
        self.at(126, 16, 0, lambda: self.disclose(item, ["resolution"]))
        self.evaluate(  # July: 100% -> closed, and every reporter hears the outcome
            item,
            EVALUATION_DAYS[1],
            self.votes(20, passes=True, basically=2),
            comments={},
            new_deadline=None,
            outcome_answer="后弄堂6盏路灯已全部安装并通过群众评议，整改项目已销号。感谢您的反映，如有问题请随时联系网格员。",
        )
        return item

    def _drain(self) -> _Item:
        """Story 2a: a blocked drain the grid fixes the same day, closed without a meeting."""
        grid = self._grid("东街社区", 2)
        member = self.rng.choice(self.grid_members[grid])
        voice = _Voice(
            25,
            9,
            20,
            Kind.DIFFICULTY,
            Area.ENVIRONMENT,
            Channel.HOUSEHOLD_VISIT,
            grid,
            "老街菜场东侧",
            "菜场旁边的下水道堵了，污水漫到路上，气味很大。",
            member,
            self.resident(grid),
        )
        item = _Item(
            DRAIN_TITLE,
            Area.ENVIRONMENT,
            Level.GRID,
            Horizon.IMMEDIATE,
            "老街菜场旁下水道堵塞，污水漫溢。网格内可立即处置。",
            [voice],
            member,
            "镇环境卫生管理所",
            "东街社区",
            "story-2-fix",
        )
        self.items.append(item)
        self._fix_at_once(
            item,
            25,
            "环卫所疏通车已到场，下水道疏通，路面冲洗干净",
            "下水道已于今天中午疏通，路面已冲洗干净。如再堵塞请随时联系网格员。",
        )
        return item

    def _fix_at_once(self, item: _Item, day: int, resolution: str, answer: str) -> None:
        item.fixed_at_once = True
        self.at(
            day,
            9,
            40,
            lambda: self.open(
                item, None, route=Route.FIX_AT_ONCE, reason="网格内可立即处置，即知即改", answer=None
            ),
        )
        self.at(
            day,
            9,
            50,
            lambda: self.assign(
                item,
                None,
                deadline=self.due(day),
                goals=["当天处置完毕"],
                measures=[f"网格员联系{item.department}当天到场处置", "处置后当面告知反映人"],
            ),
        )
        self.at(day, 13, 30, lambda: self.resolve(item, resolution))
        # Published before it closes: a closed item accepts nothing more, disclosure included.
        self.at(day, 13, 35, lambda: self.disclose(item, ["title", "area", "level", "resolution"]))
        self.at(day, 13, 40, lambda: self.close_fixed(item, f"即知即改：{resolution}，已当面告知反映人"))
        self.at(day, 13, 50, lambda: self.answer_all(item, answer))

    def close_fixed(self, item: _Item, note: str) -> None:
        self.wf.close_fixed_at_once(self.officer(item.leader), item.ref, note=note, key=self.key())

    def _bus_line(self) -> _Item:
        """Story 2b: a bus line not to be had now: registered and explained, revisited next year."""
        village = "杨南村"
        voice = _Voice(
            40,
            10,
            5,
            Kind.SUGGESTION,
            Area.LIVELIHOOD,
            Channel.RECEPTION,
            village,
            f"{village}公交站",
            "建议开通一条直达区中心医院的公交线路，现在看病要转两趟车，老人很不方便。",
            "徐正洪",
            self.resident(village),
        )
        item = _Item(
            BUS_LINE_TITLE,
            Area.LIVELIHOOD,
            Level.TOWN,
            Horizon.LONG,
            "群众建议开通直达区中心医院的公交线路。公交线网由区交通部门统一规划，本级暂不具备条件。",
            [voice],
            "王立新",
            "镇建设管理办公室",
            village,
            "story-2-register",
        )
        self.items.append(item)
        explanation = (
            "新开公交线路需由区交通委根据客流统一规划，本级暂时无法解决。镇里已将需求报区交通委并登记备案，"
            "明年线网调整时重新提交民情分析会研究；在此之前可乘坐镇内公交转乘前往医院。"
        )
        self._register(item, ANALYSIS_DAYS[1], explanation, revisit=365 + 7)
        return item

    def _register(self, item: _Item, day: int, explanation: str, *, revisit: int) -> None:
        meeting = f"analysis-{day}"

        def act() -> None:
            reason = "本级暂不具备解决条件，做好解释、登记备案"
            self.open(item, meeting, route=Route.REGISTER_AND_EXPLAIN, reason=reason, answer=None)
            self.wf.register_and_explain(
                self.officer(CLERK),
                item.ref,
                explanation=explanation,
                revisit_at=self.due(revisit),
                meeting_id=self.meetings[meeting],
                key=self.key(),
            )
            when = self.due(revisit).astimezone(BEIJING)
            self.decide(meeting, f"登记备案并做好解释，{when:%Y-%m}重新研究", item)
            self.answer_all(item, explanation)
            self.disclose(item, ["title", "area", "level"], note=explanation)

        self.at(day, 14, 10 + 3 * self.slot(meeting), act)

    # -- the generic items ----------------------------------------------------------------------

    def _generic(self) -> None:
        """About 34 items from the templates, in three analysis rounds, plus small fixes and late voices."""
        rng = self.rng
        explainable = [t for t in TEMPLATES if t.explanation]
        rng.shuffle(explainable)
        registered = explainable[:3]
        others = [t for t in TEMPLATES if t not in registered]
        rng.shuffle(others)
        waves = [
            [
                (plan, registered.pop() if plan in ("registered", "revisited") else others.pop())
                for plan in plans
            ]
            for plans in WAVE_PLANS
        ]
        fixes = rng.sample(FIXES, 3)
        late = others[:LATE_VOICES]

        generic = sum(len(w) for w in waves)
        spare = VOICES_TOTAL - len(self.items[0].voices) - 2 - len(fixes) - LATE_VOICES - FOLLOW_UPS - generic
        counts = [1] * generic
        while spare:
            index = rng.randrange(generic)
            if counts[index] < 6:
                counts[index] += 1
                spare -= 1
        suggestions = set(rng.sample(range(sum(counts) + LATE_VOICES), SUGGESTIONS_TOTAL - 1))
        said = iter(range(VOICES_TOTAL))

        def what(template: _Template) -> tuple[Kind, str]:
            if next(said) in suggestions:
                return Kind.SUGGESTION, template.suggestion
            return template.kind, rng.choice(template.voices)

        windows = (
            (0, ANALYSIS_DAYS[0] - 1),
            (ANALYSIS_DAYS[0] + 1, ANALYSIS_DAYS[1] - 2),
            (ANALYSIS_DAYS[1] + 1, ANALYSIS_DAYS[2] - 2),
        )
        counted = iter(counts)
        planned: list[list[_Item]] = []
        for wave, pairs in enumerate(waves):
            items: list[_Item] = []
            for plan, template in pairs:
                village = rng.choice(VILLAGES)
                level = self._level(plan, template)
                voices = []
                for _ in range(next(counted)):
                    unit = self._grid(
                        village if level != Level.TOWN else rng.choice(VILLAGES), rng.randint(1, 6)
                    )
                    kind, text = what(template)
                    day = rng.randint(*windows[wave])
                    voices.append(self.voice(day=day, kind=kind, area=template.area, unit=unit, text=text))
                voices.sort(key=lambda v: (v.day, v.hour, v.minute))
                item = _Item(
                    template.title,
                    template.area,
                    level,
                    Horizon.NEAR,
                    f"{template.voices[0]}（合并{len(voices)}条群众意见）",
                    voices,
                    rng.choice(AREA_LEADERS[template.area]),
                    template.department,
                    village,
                    plan,
                    template,
                )
                item.dates = self._dates(item, wave)
                items.append(item)
            # The analysis meeting sorts its items by horizon: near term first.
            planned.append(sorted(items, key=lambda i: list(Horizon).index(i.horizon)))
        for index, template in enumerate(late):
            day = rng.randint(150, 170) if index < LATE_VOICES // 2 else rng.randint(LAST_DAY - 4, LAST_DAY)
            unit = self._grid(rng.choice(VILLAGES), rng.randint(1, 6))
            kind, text = what(template)
            voice = self.voice(day=day, kind=kind, area=template.area, unit=unit, text=text)
            self.loose_voices.append(voice)
            if day <= 170:  # the older ones have heard back; the newest are still waiting
                self.at(day + 3, 10, 0, partial(self._acknowledge, voice))
        for fix in fixes:
            self._fix(fix)
        for wave, items in enumerate(planned):
            for item in items:
                self._plan_item(item, wave)
            heard = sum(len(item.voices) for item in items)
            self._summarise(ANALYSIS_DAYS[wave], heard, len(items))
        followed = rng.sample([i for i in planned[0] if i.plan in LONG_RUNNING], FOLLOW_UPS)
        for item in followed:
            assert item.template is not None
            unit = item.voices[0].unit
            kind, text = what(item.template)
            voice = self.voice(day=rng.randint(*windows[1]), kind=kind, area=item.area, unit=unit, text=text)
            self.loose_voices.append(voice)
            self._follow_up(item, voice, ANALYSIS_DAYS[1])

    def _summarise(self, day: int, voices: int, items: int) -> None:
        """The analysis meeting's own decision, about no single item."""
        meeting = f"analysis-{day}"
        decision = (
            f"本次民情分析会共研究群众意见{voices}条，归口整理为{items}个整改项目，按近期、中期、远期分类推进"
        )

        def act() -> None:
            self.wf.record_decision(
                self.officer(CLERK), self.meetings[meeting], decision=decision, key=self.key()
            )

        self.at(day, 17, 30, act)

    def _follow_up(self, item: _Item, voice: _Voice, day: int) -> None:
        """A later voice about an item already being worked on: merged into it, and told so."""
        meeting = f"analysis-{day}"

        def act() -> None:
            assert voice.id is not None
            meeting_id = self.meetings[meeting]
            self.wf.merge_opinions(
                self.officer(CLERK), item.ref, [voice.id], meeting_id=meeting_id, key=self.key()
            )
            reason = "与正在办理的整改项目属同一问题，合并办理"
            self.wf.route_opinion(
                self.officer(CLERK), voice.id, route=Route.COORDINATE, reason=reason, meeting_id=meeting_id,
                key=self.key(),
            )  # fmt: skip
            self.decide(meeting, f"新收到的1条意见并入整改项目{item.number}", item)
            feedback = f"您反映的问题已并入正在办理的整改项目{item.number}，由{item.leader}牵头办理。"
            self.wf.answer_opinion(
                Actor(voice.recorder, Role.RECORDER), voice.id, feedback=feedback, key=self.key()
            )

        self.at(day, 16, 30 + self.slot(f"{meeting}/follow-up"), act)

    def _acknowledge(self, voice: _Voice) -> None:
        assert voice.id is not None
        self.wf.answer_opinion(
            Actor(voice.recorder, Role.RECORDER),
            voice.id,
            feedback="您的意见已登记，将提交下一次民情分析会研究，研究结果会及时告知您。",
            key=self.key(),
        )

    def _fix(self, fix: _Fix) -> None:
        day = self.rng.randint(20, 170)
        village = self.rng.choice(VILLAGES)
        grid = self._grid(village, self.rng.randint(1, 6))
        member = self.rng.choice(self.grid_members[grid])
        voice = _Voice(
            day,
            8,
            self.rng.randint(0, 50),
            fix.kind,
            fix.area,
            Channel.HOUSEHOLD_VISIT,
            grid,
            f"{grid}{self.rng.randint(1, 40)}号附近",
            fix.text,
            member,
            self.resident(grid),
        )
        item = _Item(
            fix.title,
            fix.area,
            Level.GRID,
            Horizon.IMMEDIATE,
            fix.text,
            [voice],
            member,
            fix.department,
            village,
            "fixed_at_once",
        )
        self.items.append(item)
        self._fix_at_once(item, day, fix.resolution, f"{fix.resolution}。感谢您的反映。")

    @staticmethod
    def _level(plan: str, template: _Template) -> Level:
        if plan == "committee_village":
            return Level.VILLAGE
        if plan == "committee_town":
            return Level.TOWN
        if plan == "late_open" and template.level == Level.TOWN:
            return Level.VILLAGE  # from town it would reach the standing committee within the six months
        return template.level

    def _dates(self, item: _Item, wave: int) -> _Dates:
        """Choose the item's days (deadline, resolutions, evaluations) and, from them, its horizon."""
        rng = self.rng
        s = ASSIGNMENT_DAYS[wave]
        plan = item.plan
        dates = _Dates()
        if plan == "closed":
            evaluation = _first_evaluation(s + 16)
            dates.deadline = s + rng.randint(30, 60)
            resolved = _between(rng, s + 12, min(dates.deadline - 1, evaluation - 4))
            dates.rounds.append(_Round(resolved, evaluation, passes=True))
        elif plan == "late_closed":
            dates.deadline = s + rng.randint(18, 28)
            resolved = dates.deadline + rng.randint(4, 12)
            dates.rounds.append(_Round(resolved, _first_evaluation(resolved + 4), passes=True))
        elif plan == "extended_closed":
            dates.deadline = s + rng.randint(25, 35)
            dates.extension = (dates.deadline - rng.randint(2, 5), dates.deadline + rng.randint(20, 30))
            resolved = dates.deadline + rng.randint(8, 18)
            dates.rounds.append(_Round(resolved, _first_evaluation(resolved + 4), passes=True))
        elif plan in ("reopened_closed", "reopened_open"):
            first = _first_evaluation(s + 16)
            dates.deadline = s + rng.randint(30, 60)
            resolved = _between(rng, s + 12, min(dates.deadline - 1, first - 4))
            again = first + rng.randint(20, 28)
            dates.rounds.append(_Round(resolved, first, passes=False, new_deadline=again))
            if plan == "reopened_closed":
                second = _first_evaluation(first + 1)
                resolved = _between(rng, first + 8, min(again - 1, second - 4))
                dates.rounds.append(_Round(resolved, second, passes=True))
        elif plan == "committee_village":
            dates.deadline = s + 25  # village -> town -> district -> standing committee
        elif plan == "committee_town":
            dates.deadline = s + (40 if wave == 0 else 20)  # town -> district -> standing committee
        elif plan == "late_open":
            dates.deadline = s + rng.randint(15, 25)
        elif plan in ("in_progress", "handover_open"):
            dates.deadline = max(s + rng.randint(45, 150), LAST_DAY + rng.randint(6, 30))
            if plan == "handover_open":
                dates.handover = rng.randint(s + 10, LAST_DAY - 5)
        elif plan == "resolved_waiting":
            dates.deadline = LAST_DAY + rng.randint(6, 30)
            dates.rounds.append(_Round(rng.randint(EVALUATION_DAYS[-1] + 1, LAST_DAY - 1), None, passes=True))
        elif plan == "revisited":
            dates.deadline = ASSIGNMENT_DAYS[2] + rng.randint(50, 80)
        if plan in ("registered", "revisited"):
            item.horizon = Horizon.LONG
        elif plan == "opened":
            item.horizon = Horizon.MID
        else:
            span = dates.deadline - s
            item.horizon = Horizon.NEAR if span <= 45 else Horizon.MID if span <= 100 else Horizon.LONG
        return dates

    def _plan_item(self, item: _Item, wave: int) -> None:
        """Plan every action of one generic item from the days `_dates` chose."""
        assert item.template is not None
        template, dates, plan, rng = item.template, item.dates, item.plan, self.rng
        self.items.append(item)
        analysis, assigned = ANALYSIS_DAYS[wave], ASSIGNMENT_DAYS[wave]
        meeting = f"analysis-{analysis}"

        if plan in ("registered", "revisited"):
            assert template.explanation is not None
            revisit = rng.randint(LAST_DAY + 30, 330) if plan == "registered" else ANALYSIS_DAYS[2] - 7
            self._register(item, analysis, template.explanation, revisit=revisit)
            if plan == "registered":
                return
            self._revisit(item, ANALYSIS_DAYS[2])
            assigned = ASSIGNMENT_DAYS[2]
        else:
            answer = (
                "您反映的问题已在镇民情分析会上研究，已列入整改项目，"
                "将明确牵头领导和责任部门办理，办理结果会及时告知您。"
            )
            reason = "创造条件能够解决，积极协调各方解决"
            self.at(
                analysis,
                14,
                10 + 3 * self.slot(meeting),
                lambda: self.open(item, meeting, route=Route.COORDINATE, reason=reason, answer=answer),
            )
        if plan == "opened":
            return  # waits for the next assignment meeting

        assignment = f"assignment-{assigned}"
        boards = [f"{item.village}村务公开栏"] if item.level in (Level.GRID, Level.VILLAGE) else [TOWN_BOARD]
        self.at(
            assigned,
            9,
            30 + self.slot(assignment),
            lambda: self.assign(
                item,
                assignment,
                deadline=self.due(dates.deadline),
                goals=template.goals,
                measures=template.measures,
                boards=boards,
            ),
        )

        first_resolution = dates.rounds[0].resolved if dates.rounds else LAST_DAY
        busy = list(range(assigned + 2, first_resolution))
        if template.coordination and len(busy) >= 6:
            department, request, reply = template.coordination
            asked = rng.choice(busy[: len(busy) // 2])
            self.at(asked, 10, rng.randint(0, 59), lambda: self.request_help(item, department, request))
            if not plan.startswith("committee"):  # the other department keeps the stuck ones waiting
                answered = rng.randint(asked + 1, min(asked + 10, first_resolution - 1))
                self.at(answered, 11, rng.randint(0, 59), lambda: self.answer_help(item, reply))
                if plan in PAUSABLE and rng.random() < 0.5:  # the deadline waits for the other side
                    self.at(asked, 10, 59, partial(self.pause, item, f"等待{department}答复"))
                    self.at(answered, 12, 0, partial(self.resume, item))
        days = sorted(rng.sample(busy, min(len(template.progress), len(busy))))
        for day, note in zip(days, template.progress, strict=False):
            self.at(day, 16, rng.randint(0, 59), partial(self.progress, item, note))
        if days and rng.random() < 0.5:  # the bulletin board follows the work
            self.at(days[-1], 17, 30, lambda: self.disclose(item, ["progress"]))
        if dates.extension is not None:
            asked_on, extended = dates.extension
            self.at(asked_on, 11, 0, partial(self._extend, item, extended))
        if dates.handover is not None:
            successor = rng.choice([name for name, _ in LEADERS if name not in (item.leader, ZHANG)])
            why = rng.choice(("班子分工调整", "工作调动", "因病休养"))
            reason = f"原牵头领导因{why}，本项目移交{successor}同志牵头，工作台账一并移交"
            self.at(dates.handover, 9, 0, partial(self.hand_over, item, successor, reason))
        if plan.startswith("committee") or plan == "late_open":
            late_note = "受外部条件制约，进度滞后，已报上级协调"
            self.at(
                min(dates.deadline + rng.randint(3, 10), LAST_DAY),
                16,
                0,
                partial(self.progress, item, late_note),
            )

        for number, round_ in enumerate(dates.rounds):
            summary = template.resolution if number == 0 else f"{template.resolution}；评议意见已逐条整改到位"
            findings = (
                "现场视察，整改措施已落实到位" if round_.passes else "现场视察，部分整改内容尚未达到群众要求"
            )
            inspector = rng.choice(self.representatives)
            self.at(round_.resolved, 10, rng.randint(0, 59), partial(self.resolve, item, summary))
            self.at(round_.resolved, 11, 0, partial(self.disclose, item, ["progress", "resolution"]))
            self.at(
                round_.resolved,
                15,
                rng.randint(0, 59),
                partial(self.inspect, item, inspector, findings, confirmed=round_.passes),
            )
            if round_.evaluation is None:
                continue
            verdicts = self.votes(
                rng.randint(15, 22),
                passes=round_.passes,
                dissatisfied=rng.randint(2, 4),
                basically=rng.randint(0, 3),
            )
            self.evaluate(
                item,
                round_.evaluation,
                verdicts,
                comments={
                    Verdict.DISSATISFIED: "整改不彻底，问题还没有完全解决",
                    Verdict.BASICALLY_SATISFIED: "基本解决，希望建立长效管理",
                },
                new_deadline=self.due(round_.new_deadline) if round_.new_deadline else None,
                outcome_answer=f"您反映的问题已整改完毕并通过群众评议：{template.resolution}。感谢您的参与。",
            )
            if round_.new_deadline is not None and number + 1 == len(dates.rounds):
                rework = "针对民主评议中代表提出的问题，制定整改方案，逐项落实"
                self.at(round_.evaluation + rng.randint(3, 8), 16, 0, partial(self.progress, item, rework))

    def _revisit(self, item: _Item, day: int) -> None:
        """A registered item whose revisit date has come back to the analysis meeting."""
        meeting = f"analysis-{day}"

        def act() -> None:
            meeting_id = self.meetings[meeting]
            self.wf.revisit(self.officer(CLERK), item.ref, meeting_id=meeting_id, key=self.key())
            for voice in item.voices:
                assert voice.id is not None
                self.wf.route_opinion(
                    self.officer(CLERK),
                    voice.id,
                    route=Route.COORDINATE,
                    reason="到期重新研究：条件已基本具备，积极协调解决",
                    meeting_id=meeting_id,
                    key=self.key(),
                )
            self.decide(meeting, "登记备案项目到期重新研究，转为积极协调办理", item)

        self.at(day, 14, 10 + 3 * self.slot(meeting), act)

    def _extend(self, item: _Item, day: int) -> None:
        self.wf.extend_deadline(
            self.officer(item.leader),
            item.ref,
            deadline=self.due(day),
            reason="涉及区级部门审批，原定期限内无法完成，申请延期",
            approver=f"{MAYOR}（镇长）",
            key=self.key(),
        )
        self.watch(item)

    # -- the report -----------------------------------------------------------------------------

    def report(self) -> DemoReport:
        issues = [self.wf.get_issue(item.ref) for item in self.items]
        voices = [v for item in self.items for v in item.voices] + self.loose_voices
        opinions = [self.wf.get_opinion(v.id) for v in voices if v.id is not None]
        stages: dict[str, int] = {}
        for issue in issues:
            stages[issue.stage] = stages.get(issue.stage, 0) + 1
        assert self.dark_lane is not None
        assert self.drain is not None
        assert self.bus_line is not None
        assert self.dark_lane.number is not None
        assert self.drain.number is not None
        assert self.bus_line.number is not None
        return DemoReport(
            seed=self.seed,
            start=self.moment(0, 0),
            end=self.end,
            leaders=len(LEADERS),
            representatives=len(self.representatives),
            members=len(self.members),
            households=HOUSEHOLDS,
            opinions=len(opinions),
            suggestions=sum(1 for o in opinions if o.kind == Kind.SUGGESTION),
            unanswered=sum(1 for o in opinions if not o.answered),
            items=len(issues),
            by_stage=stages,
            escalated=sum(1 for i in issues if i.escalated_for),
            on_committee_list=sum(1 for i in issues if i.on_committee_list),
            overdue=sum(1 for i in issues if i.is_overdue(self.end)),
            reopened=sum(1 for item in self.items if item.reopened),
            registered=stages.get("registered", 0),
            fixed_at_once=sum(1 for item in self.items if item.fixed_at_once),
            meetings=len(self.meetings),
            events=self.wf.recorder.max_notification_id() or 0,
            dark_lane=self.dark_lane.number,
            dark_lane_replay_at=self.moment(REPLAY_DAY, 8),
            drain=self.drain.number,
            bus_line=self.bus_line.number,
        )


def seed_demo(workflow: Workflow, clock: FakeClock, *, seed: int, today: datetime) -> DemoReport:
    """Fill an empty store with six months of the demo town, ending before `today`.

    `clock` must be the workflow's clock, not later than `demo_start(today)`; it only moves
    forward. Raises `StoreNotEmptyError` when the log already holds events (nothing is written).
    """
    if not store_is_empty(workflow):
        raise StoreNotEmptyError(
            "The store already holds events; the demo only fills an empty store "
            "(use --if-empty to skip, or point CASELINE_DATA_DIR at an empty folder)."
        )
    if workflow.clock is not clock:
        raise ValueError("pass the clock the workflow was built with")
    start = demo_start(today)
    if clock.now() > start:
        raise ValueError(f"the clock is already past the demo's first moment ({start:%Y-%m-%d %H:%M} UTC)")
    clock.set(start)
    town = _Town(workflow, clock, seed=seed, today=today)
    town.plan()
    town.run()
    return town.report()
