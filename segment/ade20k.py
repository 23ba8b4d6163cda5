"""The 150 ADE20K (SceneParse150) classes, and a table merging them into groups of regions a
user recognises (sky, building / structure, tree / plant, …), with the relatedness of the groups
used to pair a region of one image with the closest kind of region in the other.

The class names are those of the benchmark's ``objectInfo150.txt`` (Zhou et al., *Scene Parsing
through ADE20K Dataset*, CVPR 2017), in order: entry ``i`` of :data:`ADE20K_CLASSES` is output
channel ``i`` of a 150-class ADE20K model (line ``i + 1`` of the file). Each group lists its
classes by their first synonym; every class belongs to exactly one group.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

#: Hub id of the default ADE20K checkpoint of :mod:`segment.semantic`: UPerNet + ConvNeXt-T,
#: MIT licence.
DEFAULT_CHECKPOINT = "smp-hub/upernet-convnext-tiny"

__all__ = [
    "ADE20K_CLASSES",
    "GROUPS",
    "Group",
    "class_to_group",
    "group_index",
    "short_name",
]

#: The 150 ADE20K class names (all synonyms, comma-separated), by 0-based output index.
ADE20K_CLASSES: tuple[str, ...] = (
    'wall',  # 0
    'building, edifice',  # 1
    'sky',  # 2
    'floor, flooring',  # 3
    'tree',  # 4
    'ceiling',  # 5
    'road, route',  # 6
    'bed',  # 7
    'windowpane, window',  # 8
    'grass',  # 9
    'cabinet',  # 10
    'sidewalk, pavement',  # 11
    'person, individual, someone, somebody, mortal, soul',  # 12
    'earth, ground',  # 13
    'door, double door',  # 14
    'table',  # 15
    'mountain, mount',  # 16
    'plant, flora, plant life',  # 17
    'curtain, drape, drapery, mantle, pall',  # 18
    'chair',  # 19
    'car, auto, automobile, machine, motorcar',  # 20
    'water',  # 21
    'painting, picture',  # 22
    'sofa, couch, lounge',  # 23
    'shelf',  # 24
    'house',  # 25
    'sea',  # 26
    'mirror',  # 27
    'rug, carpet, carpeting',  # 28
    'field',  # 29
    'armchair',  # 30
    'seat',  # 31
    'fence, fencing',  # 32
    'desk',  # 33
    'rock, stone',  # 34
    'wardrobe, closet, press',  # 35
    'lamp',  # 36
    'bathtub, bathing tub, bath, tub',  # 37
    'railing, rail',  # 38
    'cushion',  # 39
    'base, pedestal, stand',  # 40
    'box',  # 41
    'column, pillar',  # 42
    'signboard, sign',  # 43
    'chest of drawers, chest, bureau, dresser',  # 44
    'counter',  # 45
    'sand',  # 46
    'sink',  # 47
    'skyscraper',  # 48
    'fireplace, hearth, open fireplace',  # 49
    'refrigerator, icebox',  # 50
    'grandstand, covered stand',  # 51
    'path',  # 52
    'stairs, steps',  # 53
    'runway',  # 54
    'case, display case, showcase, vitrine',  # 55
    'pool table, billiard table, snooker table',  # 56
    'pillow',  # 57
    'screen door, screen',  # 58
    'stairway, staircase',  # 59
    'river',  # 60
    'bridge, span',  # 61
    'bookcase',  # 62
    'blind, screen',  # 63
    'coffee table, cocktail table',  # 64
    'toilet, can, commode, crapper, pot, potty, stool, throne',  # 65
    'flower',  # 66
    'book',  # 67
    'hill',  # 68
    'bench',  # 69
    'countertop',  # 70
    'stove, kitchen stove, range, kitchen range, cooking stove',  # 71
    'palm, palm tree',  # 72
    'kitchen island',  # 73
    ('computer, computing machine, computing device, '
     'data processor, electronic computer, information processing system'),  # 74
    'swivel chair',  # 75
    'boat',  # 76
    'bar',  # 77
    'arcade machine',  # 78
    'hovel, hut, hutch, shack, shanty',  # 79
    ('bus, autobus, coach, charabanc, double-decker, '
     'jitney, motorbus, motorcoach, omnibus, passenger vehicle'),  # 80
    'towel',  # 81
    'light, light source',  # 82
    'truck, motortruck',  # 83
    'tower',  # 84
    'chandelier, pendant, pendent',  # 85
    'awning, sunshade, sunblind',  # 86
    'streetlight, street lamp',  # 87
    'booth, cubicle, stall, kiosk',  # 88
    ('television, television receiver, television set, tv, '
     'tv set, idiot box, boob tube, telly, goggle box'),  # 89
    'airplane, aeroplane, plane',  # 90
    'dirt track',  # 91
    'apparel, wearing apparel, dress, clothes',  # 92
    'pole',  # 93
    'land, ground, soil',  # 94
    'bannister, banister, balustrade, balusters, handrail',  # 95
    'escalator, moving staircase, moving stairway',  # 96
    'ottoman, pouf, pouffe, puff, hassock',  # 97
    'bottle',  # 98
    'buffet, counter, sideboard',  # 99
    'poster, posting, placard, notice, bill, card',  # 100
    'stage',  # 101
    'van',  # 102
    'ship',  # 103
    'fountain',  # 104
    'conveyer belt, conveyor belt, conveyer, conveyor, transporter',  # 105
    'canopy',  # 106
    'washer, automatic washer, washing machine',  # 107
    'plaything, toy',  # 108
    'swimming pool, swimming bath, natatorium',  # 109
    'stool',  # 110
    'barrel, cask',  # 111
    'basket, handbasket',  # 112
    'waterfall, falls',  # 113
    'tent, collapsible shelter',  # 114
    'bag',  # 115
    'minibike, motorbike',  # 116
    'cradle',  # 117
    'oven',  # 118
    'ball',  # 119
    'food, solid food',  # 120
    'step, stair',  # 121
    'tank, storage tank',  # 122
    'trade name, brand name, brand, marque',  # 123
    'microwave, microwave oven',  # 124
    'pot, flowerpot',  # 125
    'animal, animate being, beast, brute, creature, fauna',  # 126
    'bicycle, bike, wheel, cycle',  # 127
    'lake',  # 128
    'dishwasher, dish washer, dishwashing machine',  # 129
    'screen, silver screen, projection screen',  # 130
    'blanket, cover',  # 131
    'sculpture',  # 132
    'hood, exhaust hood',  # 133
    'sconce',  # 134
    'vase',  # 135
    'traffic light, traffic signal, stoplight',  # 136
    'tray',  # 137
    ('ashcan, trash can, garbage can, wastebin, ash bin, '
     'ash-bin, ashbin, dustbin, trash barrel, trash bin'),  # 138
    'fan',  # 139
    'pier, wharf, wharfage, dock',  # 140
    'crt screen',  # 141
    'plate',  # 142
    'monitor, monitoring device',  # 143
    'bulletin board, notice board',  # 144
    'shower',  # 145
    'radiator',  # 146
    'glass, drinking glass',  # 147
    'clock',  # 148
    'flag',  # 149
)


def short_name(index: int) -> str:
    """First synonym of ADE20K class ``index`` (0-based), e.g. ``"building"`` for 1."""
    return ADE20K_CLASSES[index].split(",")[0].strip()


@dataclass(frozen=True)
class Group:
    """A group of ADE20K classes that is one kind of region in an automatic mask.

    Attributes
    ----------
    name : str
        What the user sees, e.g. ``"tree / plant"``.
    color : tuple of int
        Its RGB in the saved colour mask (DPST palette colours first).
    classes : tuple of str
        Its ADE20K classes, by first synonym (see :func:`short_name`).
    related : tuple of str
        Names of the groups that may stand in for it, most related first: a region of this
        group in one image whose group is absent from the other image is given the first of
        these that is present there.
    """

    name: str
    color: tuple[int, int, int]
    classes: tuple[str, ...]
    related: tuple[str, ...]


#: The groups, in order (group index = position). Every ADE20K class is in exactly one.
GROUPS: tuple[Group, ...] = (
    Group("sky", (0, 0, 255), ("sky",), ("water",)),
    Group("tree / plant", (0, 255, 0),
          ("tree", "plant", "flower", "palm", "pot"), ("grass / field", "mountain / rock")),
    Group("building / wall / structure", (255, 255, 255),
          ("wall", "building", "ceiling", "windowpane", "door", "house", "fence", "railing",
           "column", "skyscraper", "fireplace", "grandstand", "stairs", "screen door",
           "stairway", "bridge", "hovel", "tower", "awning", "streetlight", "booth", "pole",
           "bannister", "escalator", "stage", "canopy", "tent", "step", "tank", "pier"),
          ("mountain / rock", "ground / road / floor", "furniture")),
    Group("grass / field", (255, 255, 0), ("grass", "field"),
          ("tree / plant", "ground / road / floor")),
    Group("water", (0, 255, 255),
          ("water", "sea", "river", "fountain", "swimming pool", "waterfall", "lake"),
          ("sky", "ground / road / floor")),
    Group("mountain / rock", (255, 0, 255), ("mountain", "rock", "hill"),
          ("ground / road / floor", "building / wall / structure", "tree / plant")),
    Group("ground / road / floor", (128, 128, 128),
          ("floor", "road", "sidewalk", "earth", "rug", "sand", "path", "runway",
           "dirt track", "land"),
          ("grass / field", "mountain / rock", "building / wall / structure")),
    Group("person", (255, 0, 0), ("person", "apparel"), ("animal",)),
    Group("furniture", (0, 0, 0),
          ("bed", "cabinet", "table", "curtain", "chair", "sofa", "shelf", "armchair", "seat",
           "desk", "wardrobe", "cushion", "chest of drawers", "counter", "case", "pool table",
           "pillow", "bookcase", "blind", "coffee table", "bench", "countertop",
           "kitchen island", "swivel chair", "bar", "ottoman", "buffet", "stool", "cradle",
           "blanket"),
          ("object", "building / wall / structure")),
    Group("vehicle", (255, 128, 0),
          ("car", "boat", "bus", "truck", "airplane", "van", "ship", "minibike", "bicycle"),
          ("object", "building / wall / structure")),
    Group("animal", (128, 64, 0), ("animal",), ("person",)),
    Group("object", (128, 0, 255),
          ("painting", "mirror", "lamp", "bathtub", "base", "box", "signboard", "sink",
           "refrigerator", "toilet", "book", "stove", "computer", "arcade machine", "towel",
           "light", "chandelier", "television", "bottle", "poster", "conveyer belt", "washer",
           "plaything", "barrel", "basket", "bag", "oven", "ball", "food", "trade name",
           "microwave", "dishwasher", "screen", "sculpture", "hood", "sconce", "vase",
           "traffic light", "tray", "ashcan", "fan", "crt screen", "plate", "monitor",
           "bulletin board", "shower", "radiator", "glass", "clock", "flag"),
          ("furniture", "building / wall / structure")),
)

_GROUP_INDEX: Mapping[str, int] = MappingProxyType({g.name: i for i, g in enumerate(GROUPS)})


def group_index(name: str) -> int:
    """Index in :data:`GROUPS` of the group called ``name``."""
    try:
        return _GROUP_INDEX[name]
    except KeyError:
        raise ValueError(f"unknown group {name!r}; groups: "
                         f"{', '.join(g.name for g in GROUPS)}") from None


def class_to_group() -> np.ndarray:
    """Look-up table from ADE20K class index (0..149) to group index.

    Returns
    -------
    np.ndarray
        ``(150,)`` int32, a new array (modify it freely).

    Raises
    ------
    ValueError
        A class is in no group, in two groups, or a group names an unknown class (a broken
        table; the tests check it never is).
    """
    by_name = {short_name(i): i for i in range(len(ADE20K_CLASSES))}
    if len(by_name) != len(ADE20K_CLASSES):
        raise ValueError("ADE20K first synonyms are not unique")
    table = np.full(len(ADE20K_CLASSES), -1, dtype=np.int32)
    for gi, group in enumerate(GROUPS):
        for name in group.classes:
            if name not in by_name:
                raise ValueError(f"group {group.name!r} names unknown class {name!r}")
            ci = by_name[name]
            if table[ci] >= 0:
                raise ValueError(f"class {name!r} is in {GROUPS[table[ci]].name!r} and "
                                 f"{group.name!r}")
            table[ci] = gi
    missing = [short_name(i) for i in np.flatnonzero(table < 0)]
    if missing:
        raise ValueError(f"classes in no group: {', '.join(missing)}")
    return table
