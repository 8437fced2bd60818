# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""What TensorRT's ONNX importer accepts, checked on an ONNX graph without TensorRT.

TensorRT cannot be installed where models are exported (or in CI), and its parser refuses a
graph only on the vehicle, minutes into a build. So the importer's rules are written down here
as facts, from onnx-tensorrt's operator table (docs/operators.md) and importer
(onnxOpImporters.cpp), for the releases this project supports:

| release | where | opsets | builder precision flags, implicit INT8 |
|---|---|---|---|
| 10.3 | JetPack 6 | 9-20 | yes |
| 10.x | desktop | 9-20 (the table of 10.0-10.1; later 10.x keep at least this) | yes |
| 11.x | desktop | 9-25 | removed (strongly typed networks only, Q/DQ for INT8) |

Rules, each refused with the node named:
1. the default-domain opset lies in the release's range; nodes of other domains need plugins;
2. the operator is one TensorRT imports;
3. the data input's type is one the operator accepts (DOUBLE counts as FLOAT: the parser casts
   it down);
4. UINT8 exists only as a network input or output and as a Cast's input: the Gather importer and
   most others refuse it (the camera frame must be cast before any indexing);
5. per-operator restrictions that concern our exports: Resize modes and no antialiasing; `axes`
   and `pads` of Pad/Slice/Squeeze/Unsqueeze/Reduce* as initialisers.

`adds export` runs `check_model` on every file it writes, the engine builder explains a parser
failure with it, and the test suite's fake TensorRT parser refuses exactly what it finds.
The rules reach into subgraphs (If branches, Loop and Scan bodies), which the importer parses
with the same operator importers; the depth graph has none.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

from adds_ros.errors import UserValueError


@dataclass(frozen=True)
class Release:
    """One TensorRT release line's importer and builder facts."""

    name: str
    min_opset: int
    max_opset: int
    precision_flags: bool      # BuilderFlag.FP16/INT8 (weak typing); 11 removed them
    implicit_int8: bool        # IInt8Calibrator; 11 removed it (Q/DQ graphs only)


RELEASES: Dict[str, Release] = {
    '10.3': Release('TensorRT 10.3 (JetPack 6)', 9, 20, True, True),
    '10': Release('TensorRT 10.x', 9, 20, True, True),
    '11': Release('TensorRT 11.x', 9, 25, False, False),
}


def release_for(version: str) -> Release:
    """Return the facts for a TensorRT version string ('10.3.0.30', '11.1.0')."""
    parts = version.split('.')
    for key in ('.'.join(parts[:2]), parts[0]):
        if key in RELEASES:
            return RELEASES[key]
    raise UserValueError(f'TensorRT {version} is not a supported release (supported: '
                         f'{", ".join(r.name for r in RELEASES.values())})')


FLOAT = ('FLOAT', 'FLOAT16', 'BFLOAT16')
NUMERIC = FLOAT + ('INT32', 'INT64')
ANY = NUMERIC + ('BOOL',)
# operator -> the types its data input may have (onnx-tensorrt docs/operators.md, column
# "Supported Types"; operators marked N there are absent)
_GROUPS: Tuple[Tuple[Tuple[str, ...], str], ...] = (
    (FLOAT, 'Acos Acosh Asin Asinh Atan Atanh AveragePool BatchNormalization Ceil Celu Clip '
            'Conv ConvTranspose Cos Cosh CumSum Dropout Einsum Elu Erf Exp Floor Gemm '
            'GlobalAveragePool GlobalLpPool GlobalMaxPool GroupNormalization GRU HardSigmoid '
            'HardSwish Hardmax ImageScaler InstanceNormalization IsInf LayerNormalization '
            'LeakyRelu Log LogSoftmax LRN LSTM LpNormalization LpPool MatMul MaxPool '
            'MeanVarianceNormalization ParametricSoftplus Pow PRelu QuantizeLinear RandomNormal '
            'RandomNormalLike RandomUniform RandomUniformLike Reciprocal Resize RNN Round '
            'ScaledTanh Scan Selu Sigmoid Sin Sinh Softmax Softplus Softsign Sqrt Tan Tanh '
            'ThresholdedRelu Upsample'),
    (NUMERIC, 'Abs Add ArgMax ArgMin DepthToSpace Div Equal Greater GreaterOrEqual IsNaN Less '
              'LessOrEqual Max Min Mod Mul Neg Pad Range ReduceL1 ReduceL2 ReduceLogSum '
              'ReduceLogSumExp ReduceMax ReduceMean ReduceMin ReduceProd ReduceSum '
              'ReduceSumSquare Relu Scatter ScatterElements ScatterND Shrink Sign SpaceToDepth '
              'Sub Sum TopK'),
    (ANY, 'Concat Constant ConstantOfShape Expand EyeLike Flatten Gather GatherElements GatherND '
          'Identity If Loop OneHot Reshape ReverseSequence Shape Size Slice Split Squeeze Tile '
          'Transpose Trilu Unsqueeze Where'),
    (('FLOAT', 'FLOAT16'), 'DeformConv GridSample Mish NonMaxSuppression NonZero RoiAlign'),
    (('BOOL',), 'And Not Or Xor'),
    (ANY + ('UINT8',), 'Cast CastLike'),
    (('INT8', 'FLOAT8E4M3FN', 'INT4'), 'DequantizeLinear'),
    (NUMERIC + ('INT8',), 'Gelu'),
    (NUMERIC, 'Mean'),
)
OPERATOR_TYPES: Dict[str, Tuple[str, ...]] = {
    op: types for types, ops in _GROUPS for op in ops.split()}
# operators whose every input is data (element-wise with broadcasting, Concat); Where: 1 and 2
ALL_DATA = {'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'Mod', 'Concat',
            'Equal', 'Greater', 'GreaterOrEqual', 'Less', 'LessOrEqual', 'And', 'Or', 'Xor'}
DATA_INPUTS = {'Where': (1, 2)}
UINT8_CONSUMERS = {'Cast', 'CastLike'}
# input index that must be an initialiser (or a Constant's output), per operator
CONSTANT_INPUTS = {'Pad': {1: 'pads', 3: 'axes'}, 'Slice': {3: 'axes'}, 'Squeeze': {1: 'axes'},
                   'Unsqueeze': {1: 'axes'}, 'CumSum': {1: 'axis'},
                   **{op: {1: 'axes'} for op in OPERATOR_TYPES if op.startswith('Reduce')}}
RESIZE_MODES = {'nearest', 'linear'}
RESIZE_COORDINATES = {'half_pixel', 'pytorch_half_pixel', 'tf_half_pixel_for_nn', 'asymmetric',
                      'align_corners'}
DEFAULT_DOMAINS = ('', 'ai.onnx')


@dataclass(frozen=True)
class Violation:
    """One thing TensorRT's importer would refuse, with the node it concerns."""

    node: str
    op: str
    problem: str

    def __str__(self) -> str:
        return f'node {self.node!r} ({self.op}): {self.problem}'


ModelLike = Union[bytes, str, Path, 'onnx.ModelProto']  # noqa: F821 - imported lazily


def _load(model: ModelLike):
    import onnx

    if isinstance(model, (bytes, bytearray)):
        return onnx.load_from_string(bytes(model))
    if isinstance(model, (str, Path)):
        return onnx.load(str(model), load_external_data=False)
    return model


def tensor_types(model) -> Dict[str, str]:
    """Name -> ONNX element type name of every typed tensor, subgraphs (If, Loop, Scan) too."""
    import onnx

    try:
        model = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - keep what the file declares; rules still apply to it
        pass
    types = {}
    for graph, *_ in graphs(model.graph):
        types.update({i.name: onnx.TensorProto.DataType.Name(i.data_type)
                      for i in graph.initializer})
        for value in list(graph.input) + list(graph.value_info) + list(graph.output):
            if value.type.HasField('tensor_type') and value.type.tensor_type.elem_type:
                types[value.name] = onnx.TensorProto.DataType.Name(
                    value.type.tensor_type.elem_type)
    return types


def graphs(graph, outer: frozenset = frozenset(), scope: str = ''
           ) -> Iterable[Tuple[object, frozenset, str]]:
    """Yield the main graph and every subgraph, each with the constants it sees and its scope.

    `scope` names a subgraph's unnamed nodes in messages ('' for the main graph: `#3`).
    The importer parses If branches and Loop/Scan bodies with the same operator importers, and a
    subgraph sees the outer scope's initialisers, so the rules apply to them as to the main graph.
    """
    import onnx

    constants = outer | _constants(graph)
    yield graph, constants, scope
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                yield from graphs(attribute.g, constants, attribute.g.name)
            elif attribute.type == onnx.AttributeProto.GRAPHS:
                for sub in attribute.graphs:
                    yield from graphs(sub, constants, sub.name)


def _constants(graph) -> frozenset:
    names = {i.name for i in graph.initializer}
    names.update(out for node in graph.node if node.op_type == 'Constant' for out in node.output)
    return frozenset(names)


def _attribute(node, name: str, default):
    import onnx

    for attribute in node.attribute:
        if attribute.name == name:
            value = onnx.helper.get_attribute_value(attribute)
            return value.decode() if isinstance(value, bytes) else value
    return default


def _opset_problems(model, release: Release) -> List[Violation]:
    problems = []
    for opset in model.opset_import:
        if opset.domain in DEFAULT_DOMAINS and not (
                release.min_opset <= opset.version <= release.max_opset):
            problems.append(Violation('<model>', 'opset', f'opset {opset.version} is outside '
                                      f'{release.name}\'s {release.min_opset}-'
                                      f'{release.max_opset}'))
    return problems


def _data_inputs(node) -> Iterable[Tuple[int, str]]:
    if node.op_type in ALL_DATA:
        indices: Sequence[int] = range(len(node.input))
    else:
        indices = DATA_INPUTS.get(node.op_type, (0,))
    return [(i, node.input[i]) for i in indices if i < len(node.input) and node.input[i]]


def _node_problems(node, types: Dict[str, str], constants: frozenset) -> List[str]:
    """Rules 2-5 for one node of the default domain."""
    op = node.op_type
    if op not in OPERATOR_TYPES:
        return ['TensorRT has no importer for this operator']
    problems = []
    for name in node.input:
        if name and types.get(name) == 'UINT8' and op not in UINT8_CONSUMERS:
            problems.append(f'input {name!r} is UINT8; TensorRT takes UINT8 only as a network '
                            f'input or output or as a Cast\'s input (cast it first)')
    allowed = OPERATOR_TYPES[op]
    for _, name in _data_inputs(node):
        kind = types.get(name)
        kind = 'FLOAT' if kind == 'DOUBLE' else kind
        if kind is not None and kind != 'UINT8' and kind not in allowed:
            problems.append(f'input {name!r} is {kind}; {op} takes {", ".join(allowed)}')
    for index, what in CONSTANT_INPUTS.get(op, {}).items():
        if index < len(node.input) and node.input[index] and node.input[index] not in constants:
            problems.append(f'{what} ({node.input[index]!r}) must be an initializer')
    if op == 'Resize':
        problems += _resize_problems(node)
    return problems


def _resize_problems(node) -> List[str]:
    problems = []
    if _attribute(node, 'antialias', 0):
        problems.append('antialiasing is not supported')
    mode = _attribute(node, 'mode', 'nearest')
    if mode not in RESIZE_MODES:
        problems.append(f'mode {mode!r} is not supported (nearest, linear)')
    coordinates = _attribute(node, 'coordinate_transformation_mode', 'half_pixel')
    if coordinates not in RESIZE_COORDINATES:
        problems.append(f'coordinate_transformation_mode {coordinates!r} is not supported')
    return problems


def check_model(model: ModelLike, releases: Optional[Sequence[Release]] = None
                ) -> List[Violation]:
    """Return what TensorRT's importer would refuse in `model` for any of `releases` (all)."""
    model = _load(model)
    releases = list(RELEASES.values()) if releases is None else list(releases)
    found: List[Violation] = []
    for release in releases:
        found += [v for v in _opset_problems(model, release) if v not in found]
    types = tensor_types(model)
    for graph, constants, scope in graphs(model.graph):
        for index, node in enumerate(graph.node):
            name = node.name or f'{scope}#{index}'
            if node.domain not in DEFAULT_DOMAINS:
                found.append(Violation(name, f'{node.domain}.{node.op_type}',
                                       'custom domain: TensorRT needs a plugin for it'))
                continue
            found += [Violation(name, node.op_type, p)
                      for p in _node_problems(node, types, constants)]
    return found


def require_importable(model: ModelLike, what: str,
                       releases: Optional[Sequence[Release]] = None) -> None:
    """Raise UserValueError naming every node TensorRT would refuse in `model` (`what` it is)."""
    violations = check_model(model, releases)
    if violations:
        shown = '; '.join(str(v) for v in violations[:8])
        more = f' (and {len(violations) - 8} more)' if len(violations) > 8 else ''
        raise UserValueError(f'{what}: TensorRT\'s ONNX importer would refuse it: {shown}{more}')
