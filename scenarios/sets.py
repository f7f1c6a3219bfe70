"""Named scenario sets, and resolution of `SET or PATH` arguments.

A set is declared in the `clinsim.scenario_sets` entry-point group by a `ScenarioSet` object (a
name, a JSONL file inside a package, a description, a licence and an attribution); clinsim's own
sets below are declared in its pyproject.toml like any other package's."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from clinsim.plugins import Registry
from clinsim.scenarios.errors import RecordError, ScenarioLoadError, UnknownScenarioSet
from clinsim.scenarios.loader import LoadReport, load_file
from clinsim.scenarios.model import Scenario

_AGENTCLINIC = (
    "AgentClinic (Schmidgall et al. 2024), from MedQA (Jin et al. 2021); "
    "see clinsim/scenarios/data/ATTRIBUTION.md"
)


@dataclass(frozen=True)
class ScenarioSet:
    """A named scenario file shipped in a package: `package`'s `file` (a path inside it)."""

    name: str
    file: str
    description: str
    license: str
    attribution: str
    package: str = "clinsim.scenarios"

    @property
    def path(self) -> Path:
        return Path(str(resources.files(self.package).joinpath(self.file)))


GROUP = "clinsim.scenario_sets"
SCENARIO_SETS: Registry[ScenarioSet] = Registry(
    GROUP, "scenario set", lambda component: isinstance(component, ScenarioSet)
)
"""Every installed scenario set, by name (`clinsim run NAME`)."""

DEMO = ScenarioSet(
    "demo",
    "data/demo.jsonl",
    "A few synthetic cases in clinsim's own format: the default run.",
    "MIT",
    "clinsim",
)
AGENTCLINIC_MEDQA = ScenarioSet(
    "agentclinic-medqa",
    "data/agentclinic_medqa.jsonl",
    "AgentClinic-MedQA: 107 OSCE cases built from MedQA USMLE questions.",
    "MIT",
    _AGENTCLINIC,
)
AGENTCLINIC_MEDQA_EXT = ScenarioSet(
    "agentclinic-medqa-ext",
    "data/agentclinic_medqa_extended.jsonl",
    "AgentClinic-MedQA-Extended: 214 OSCE cases (includes the 107 above).",
    "MIT",
    _AGENTCLINIC,
)
MIMIC_IV_DEMO = ScenarioSet(
    "mimic-iv-demo",
    "data/mimic_iv_demo.jsonl",
    "MIMIC-IV demo admissions (OSCE shape, EHR-linked): diagnose with the EHR tools.",
    "ODbL-1.0",
    "MIMIC-IV Clinical Database Demo v2.2 (Johnson et al. 2023, PhysioNet, "
    "doi:10.13026/dp1f-ex47); see clinsim/environments/ehr/data/mimic-iv-demo",
)
MIMIC_IV_DEMO_NOTES = ScenarioSet(
    "mimic-iv-demo-notes",
    "data/mimic_iv_demo_notes.jsonl",
    "MIMIC-IV demo admissions told by synthetic discharge summaries and radiology reports "
    "(MIMIC-IV-Note format): the patient answers from the note.",
    "ODbL-1.0 (MIMIC-IV demo EHR data); MIT (synthetic notes)",
    "MIMIC-IV Clinical Database Demo v2.2 (Johnson et al. 2023, PhysioNet, "
    "doi:10.13026/dp1f-ex47); synthetic notes written for clinsim; see "
    "clinsim/scenarios/data/mimic-iv-demo-notes",
)
IMAGES = ScenarioSet(
    "images",
    "data/images.jsonl",
    "Image-bearing cases: chest X-ray, dermatology, fundus, histopathology, DICOM CT/MR.",
    "CC BY 4.0 / CC BY 3.0 images (NIH ChestX-ray14 terms for two); synthetic case text",
    "Hannover Medical School, PAD-UFES-20, IDRiD, Kather et al. 2016, NIH ChestX-ray14; "
    "see clinsim/scenarios/data/images/ATTRIBUTION.md",
)


def scenario_sets() -> list[ScenarioSet]:
    """Every installed set whose file is there, in declaration order."""
    found = (SCENARIO_SETS.get(entry.name) for entry in SCENARIO_SETS.installed())
    return [s for s in found if s.path.is_file()]


def demo_notes_dir() -> Path:
    """The bundled synthetic MIMIC-IV-Note folder (`note/discharge.csv.gz`,
    `note/radiology.csv.gz`) for admissions of the MIMIC-IV demo."""
    return Path(str(resources.files("clinsim.scenarios").joinpath("data", "mimic-iv-demo-notes")))


def bundled_sets() -> list[ScenarioSet]:
    """The sets clinsim itself ships."""
    own = [e.name for e in SCENARIO_SETS.installed() if e.distribution == "clinsim"]
    return [s for s in scenario_sets() if s.name in own]


def get_set(name: str) -> ScenarioSet:
    if name not in SCENARIO_SETS:
        known = ", ".join(SCENARIO_SETS.names())
        raise UnknownScenarioSet(f"no scenario set {name!r} (installed sets: {known})")
    return SCENARIO_SETS.get(name)


def load_report(source: str, image_dir: str | Path | None = None) -> LoadReport:
    """Load a bundled set by name or a scenario file by path. With `image_dir`, every image
    must resolve to a local file (see clinsim.scenarios.images)."""
    if source in SCENARIO_SETS:
        s = SCENARIO_SETS.get(source)
        return load_file(
            s.path,
            set_name=s.name,
            source=s.name,
            license=s.license,
            attribution=s.attribution,
            image_dir=image_dir,
        )
    path = Path(source)
    if path.exists():
        return load_file(path, image_dir=image_dir)
    known = ", ".join(SCENARIO_SETS.names())
    raise UnknownScenarioSet(f"{source!r} is neither an installed set ({known}) nor a file")


def load_good(
    sources: list[str], image_dir: str | Path | None = None
) -> tuple[list[Scenario], list[RecordError]]:
    """Load several sets or files: every scenario that could be read, and one error for each
    record that could not (the good records of a file load whatever the bad ones hold)."""
    scenarios: list[Scenario] = []
    errors: list[RecordError] = []
    for source in sources:
        report = load_report(source, image_dir)
        scenarios.extend(report.scenarios)
        errors.extend(report.errors)
    return scenarios, errors


def load_scenarios(sources: list[str], image_dir: str | Path | None = None) -> list[Scenario]:
    """Load several sets or files; raises ScenarioLoadError listing every bad record."""
    scenarios, errors = load_good(sources, image_dir)
    if errors:
        raise ScenarioLoadError(errors)
    return scenarios


def find_scenario(scenario_id: str) -> Scenario:
    """Find a bundled scenario by id ('agentclinic-medqa/0001')."""
    set_name = scenario_id.rsplit("/", 1)[0]
    if set_name not in SCENARIO_SETS:
        raise UnknownScenarioSet(f"no installed set for scenario id {scenario_id!r}")
    for scenario in load_report(set_name).scenarios:
        if scenario.id == scenario_id:
            return scenario
    raise UnknownScenarioSet(f"no scenario {scenario_id!r} in set {set_name!r}")
