"""Generate the kernels' per-loss dispatch and the C API from two tables.

    python tools/generate_kernels.py   # setup.py runs this before Cython; so may you

The losses come from the table of losses, src/smoothl1/_core/losses.py (loaded by path:
nothing is built yet), the one place a loss is listed; the C API's operations, dtypes,
parameter kinds and layouts from the table below. Tempita templates (Tempita ships with Cython) turn them
into the files Cython compiles and ships:

    src/kernels/loss_points.pxi.tp     -> .pxi   each loss's point functions (included) and
                                          their dispatch per element (LossParams,
                                          element_params, loss_point, grad_point, hess_point)
    src/kernels/loss_runs.pxi.tp       -> .pxi   the loss codes, execute_loss, the pool's
                                          run_task_item, the C API's pass functions
    src/kernels/grad_hess.pxi.tp       -> .pxi   the grad_hess loop, which calls the C
                                          formulas of a loss itself (see there)
    src/kernels/entry_points.pxi.tp    -> .pxi   the public functions of every loss, compiled
                                          (they call kernels/small_calls.pxi)
    src/kernels/capi_functions.pxi.tp  -> .pxi   the `cdef api` definitions, included by
                                          src/_smoothl1.pyx (so the AVX2 and AVX-512 builds,
                                          which include that file, export the same functions)
    src/smoothl1/_smoothl1.pxd.tp      -> src/smoothl1/_smoothl1.pxd   their declarations,
                                          under the module's own dotted name
    src/smoothl1/kernels.pxd.tp        -> src/smoothl1/kernels.pxd     the public cimport
                                          name, with the contract written out
    src/smoothl1/smoothl1_functions.h.tp -> src/smoothl1/smoothl1_functions.h  every
                                          signature again, in C with its parameters' names:
                                          SMOOTHL1_FOR_EACH_FUNCTION(X), which smoothl1.h
                                          includes (not compiled here: no rebuild)

The outputs are build products (listed in .gitignore, left out of the sdist) and are
rewritten only when their text changes, so an unchanged table does not rebuild the kernels.
The exported signatures stay pinned by the checked-in tests/cython_abi_signatures.txt, which
tests/test_cython_abi.py compares with the built module (tools/update_abi_signatures.py
rewrites it on request, for a reviewed diff): a change to this table that changes or removes
a signature fails that test.

Every function is named smoothl1_<loss>_<operation>_<dtype><parameter suffix>[_strided] and
calls, in section 4 of src/_smoothl1.pyx, the pass function <loss><pass suffix>_pass(
parameter arguments, mode, n, input, input_stride, target, target_stride, then a pointer and
a stride for every slot of OUTPUT_SLOTS (NULL and 0 for slots the operation does not write),
grad_scale). The contiguous function of a family is its _strided twin with every stride 1.

How kernels join:
  - a loss:       its row in src/smoothl1/_core/losses.py and its point functions in
                  src/kernels/losses/<name>.pxi; nothing here (its C API functions, pass
                  functions and dispatch are generated);
  - an operation: an Operation line in OPERATIONS; a new output also gets a slot in
                  OUTPUT_SLOTS and an argument of every pass function (as the grad_hess_*
                  operations did with hess_out);
  - a parameter kind: a Parameter line in PARAMETERS. The per-element kind,
                  Parameter("_params", per_element=True, pass_suffix="_params", ...), makes
                  <param> a `const T*` followed by <param>_stride, and <loss>_params_pass
                  reads one parameter per element (docs/contract.md section 13);
  - an operation for a parameter kind: its name in that Parameter's `operations`. Today
                  both kinds have every operation.
"""
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from Cython import Tempita

ROOT = Path(__file__).resolve().parent.parent


def load_table_of_losses(root=ROOT):
    """src/smoothl1/_core/losses.py, loaded by its path (the package is not built yet)."""
    path = root / "src" / "smoothl1" / "_core" / "losses.py"
    spec = importlib.util.spec_from_file_location("smoothl1_table_of_losses", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Loss:
    """A loss as the C API names it (from its row in the table of losses)."""
    name: str        # in the function names and in <name>_pass
    parameter: str   # the name of its parameter argument
    doc: str         # for kernels.pxd


@dataclass(frozen=True)
class Operation:
    name: str
    returns: str     # "double": the sum of the losses; "void": nothing
    mode: str        # the segment loop's mode flags (section 2 of src/_smoothl1.pyx)
    outputs: tuple   # the OUTPUT_SLOTS it writes
    scaled: bool     # whether it takes grad_scale (every output but the loss is scaled)
    doc: str         # for kernels.pxd


@dataclass(frozen=True)
class DType:
    suffix: str
    ctype: str


@dataclass(frozen=True)
class Parameter:
    suffix: str        # in the function names, before _strided ("" for a scalar parameter)
    per_element: bool  # a `const T*` and a stride instead of one double
    pass_suffix: str   # <loss><pass_suffix>_pass computes it
    operations: tuple  # the names of the OPERATIONS offered with this kind of parameter


# -- The table ---------------------------------------------------------------------------------
TABLE_OF_LOSSES = load_table_of_losses().LOSSES
LOSSES = tuple(Loss(row.name, row.param, f"{row.name} (parameter {row.param} {row.accepted})")
               for row in TABLE_OF_LOSSES)
OPERATIONS = (
    Operation("loss_sum", "double", "SUM_LOSS", (), scaled=False,
              doc="returns  sum_i loss(d_i)"),
    Operation("loss", "void", "STORE_LOSS", ("loss_out",), scaled=False,
              doc="writes   loss_out[i] = loss(d_i)"),
    Operation("grad", "void", "STORE_GRAD", ("grad_out",), scaled=True,
              doc="writes   grad_out[i] = grad(d_i) * grad_scale"),
    Operation("loss_and_grad", "double", "SUM_LOSS | STORE_GRAD", ("grad_out",), scaled=True,
              doc="writes   grad_out[i] = grad(d_i) * grad_scale,\n"
                  "returns  sum_i loss(d_i), in one pass"),
    # docs/contract.md section 11: the gradient and a curvature, elementwise, in one pass
    Operation("grad_hess_exact", "void", "STORE_GRAD | STORE_HESS_EXACT",
              ("grad_out", "hess_out"), scaled=False,
              doc="writes   grad_out[i] = grad(d_i), hess_out[i] = loss''(d_i)"),
    Operation("grad_hess_irls", "void", "STORE_GRAD | STORE_HESS_IRLS",
              ("grad_out", "hess_out"), scaled=False,
              doc="writes   grad_out[i] = grad(d_i), hess_out[i] = grad(d_i) / d_i\n"
                  "         (its limit at d_i = 0)"),
    Operation("grad_hess_one", "void", "STORE_GRAD | STORE_HESS_ONE",
              ("grad_out", "hess_out"), scaled=False,
              doc="writes   grad_out[i] = grad(d_i), hess_out[i] = 1\n"
                  "         (NaN where d_i is NaN)"),
)
DTYPES = (DType("f32", "float"), DType("f64", "double"))
PARAMETERS = (
    Parameter("", per_element=False, pass_suffix="",
              operations=tuple(operation.name for operation in OPERATIONS)),
    # docs/contract.md section 13: element i's parameter is <param>[i * <param>_stride]
    Parameter("_params", per_element=True, pass_suffix="_params",
              operations=tuple(operation.name for operation in OPERATIONS)),
)
LAYOUTS = ("strided", "contiguous")
#: (pointer, stride) of every output the pass functions take, in their argument order
OUTPUT_SLOTS = (("loss_out", "loss_stride"), ("grad_out", "grad_stride"),
                ("hess_out", "hess_stride"))
# -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Argument:
    ctype: str
    name: str
    is_stride: bool = False

    def __str__(self):
        return f"{self.ctype} {self.name}"


@dataclass(frozen=True)
class Function:
    """One exported function: what the templates print."""
    name: str
    returns: str
    arguments: tuple
    body: str        # the one statement of its definition
    loss: Loss
    operation: Operation
    dtype: DType
    parameter: Parameter
    layout: str

    def parameters(self, indent, tail):
        """The argument list, wrapped so that no line, indented by `indent` and followed by
        `tail` (what the template prints after the list), passes 99 columns."""
        return wrap([str(argument) for argument in self.arguments], indent,
                    99 - len(indent) - len(tail))


def wrap(items, indent, limit):
    """The items joined by ", " into lines of at most `limit` characters; the lines are
    joined by a newline and `indent`."""
    lines, line = [], ""
    for item in items:
        candidate = f"{line}, {item}" if line else item
        if line and len(candidate) + 1 > limit:
            lines.append(line + ",")
            line = item
        else:
            line = candidate
    lines.append(line)
    return ("\n" + indent).join(lines)


def family_arguments(loss, operation, dtype, parameter):
    """The _strided function's arguments, in order."""
    element = dtype.ctype
    arguments = [Argument("Py_ssize_t", "n"),
                 Argument(f"const {element}*", "input"),
                 Argument("Py_ssize_t", "input_stride", True),
                 Argument(f"const {element}*", "target"),
                 Argument("Py_ssize_t", "target_stride", True)]
    for pointer, stride in OUTPUT_SLOTS:
        if pointer in operation.outputs:
            arguments += [Argument(f"{element}*", pointer), Argument("Py_ssize_t", stride, True)]
    if parameter.per_element:
        arguments += [Argument(f"const {element}*", loss.parameter),
                      Argument("Py_ssize_t", f"{loss.parameter}_stride", True)]
    else:
        arguments.append(Argument("double", loss.parameter))
    if operation.scaled:
        arguments.append(Argument("double", "grad_scale"))
    return arguments


def pass_call(loss, operation, dtype, parameter):
    """The _strided function's body: its pass function, with NULL for unwritten outputs."""
    if parameter.per_element:
        values = [loss.parameter, f"{loss.parameter}_stride"]
    else:
        values = [loss.parameter]
    values += [operation.mode, "n", "input", "input_stride", "target", "target_stride"]
    for pointer, stride in OUTPUT_SLOTS:
        if pointer in operation.outputs:
            values += [pointer, stride]
        else:
            values += [f"<{dtype.ctype}*>NULL", "0"]
    values.append("grad_scale" if operation.scaled else "1.0")
    return f"{loss.name}{parameter.pass_suffix}_pass", values


def statement(returns, callee, values):
    prefix = "return " if returns != "void" else ""
    head = f"    {prefix}{callee}("
    return head + wrap(values, " " * len(head), 99 - len(head) - 1) + ")"


def functions():
    """Every exported function, grouped family by family (loss, dtype, parameter kind), the
    _strided functions first; a parameter kind has the operations its table line names."""
    unknown = {name for parameter in PARAMETERS for name in parameter.operations} \
        - {operation.name for operation in OPERATIONS}
    if unknown:
        raise ValueError(f"PARAMETERS name operations that OPERATIONS lacks: {sorted(unknown)}")
    result = []
    for loss in LOSSES:
        for dtype in DTYPES:
            for parameter in PARAMETERS:
                for layout in LAYOUTS:
                    for operation in OPERATIONS:
                        if operation.name in parameter.operations:
                            result.append(make_function(loss, operation, dtype, parameter,
                                                        layout))
    return result


def make_function(loss, operation, dtype, parameter, layout):
    base = f"smoothl1_{loss.name}_{operation.name}_{dtype.suffix}{parameter.suffix}"
    strided = family_arguments(loss, operation, dtype, parameter)
    if layout == "strided":
        callee, values = pass_call(loss, operation, dtype, parameter)
        return Function(base + "_strided", operation.returns, tuple(strided),
                        statement(operation.returns, callee, values), loss, operation, dtype,
                        parameter, layout)
    values = ["1" if argument.is_stride else argument.name for argument in strided]
    return Function(base, operation.returns,
                    tuple(argument for argument in strided if not argument.is_stride),
                    statement(operation.returns, base + "_strided", values), loss, operation,
                    dtype, parameter, layout)


def families(all_functions):
    """[(title, [functions])] in table order: one family per loss, dtype and parameter kind."""
    grouped = {}
    for function in all_functions:
        key = (function.loss, function.dtype, function.parameter)
        grouped.setdefault(key, []).append(function)
    return [(f"{loss.name}, {dtype.ctype}"
             + (f", per-element {loss.parameter}" if parameter.per_element else ""), members)
            for (loss, dtype, parameter), members in grouped.items()]


# -- What the loss templates print (src/kernels/loss_*.pxi.tp) ------------------------------------

def loss_structs(row):
    """The Cython structs of a loss's parameters: scalar, fast scalar variant, per element."""
    structs = [row.kernel + "Params"]
    if row.fast_scalar:
        structs.append(row.fast_scalar + "Params")
    return structs + [row.kernel + "ArrayParams"]


def condition(row):
    """`LossParams is S or ...` for each of the loss's structs S."""
    return " or ".join("LossParams is " + struct for struct in loss_structs(row))


def branch(k, row, count):
    """The k-th branch of a chain over `count` losses; the last is `else`."""
    if k == count - 1:
        return "else"
    return ("if " if k == 0 else "elif ") + condition(row)


def c_rows(table):
    """The losses whose point functions are C (row.c_fields)."""
    return [row for row in table if row.c_fields]


def c_call(row, operation, params="p"):
    """The call of a C point function of `operation` at d and the struct `params`."""
    fields = ", ".join(f"{params}.{field}" for field in row.c_fields)
    return f"smoothl1_{row.name}_{operation}(d, {fields})"


def point_call(row, operation):
    """The call of a loss's point function of `operation` ("loss", "grad", "exact", "irls")
    at d, p: its C function directly where the loss has C formulas (row.c_fields)."""
    if row.c_fields:
        return c_call(row, operation)
    suffix = {"loss": "loss", "grad": "grad", "exact": "exact_hess", "irls": "irls_hess"}
    return f"{row.name}_{suffix[operation]}_point(d, p)"


def valid_parameter(row):
    """The test a per-element parameter `value` passes (NaN fails it)."""
    test = "value >= 0" if row.zero_allowed else "value > 0"
    return test if row.inf_allowed else test + " and not isinf(value)"


def params_kinds(table):
    """(index, struct, enum name) of every LossParams instance, in the fused type's order."""
    result = []
    for row in table:
        stem = "PARAMS_" + row.name.upper()
        suffixes = ["", "_FAST", "_ARRAY"] if row.fast_scalar else ["", "_ARRAY"]
        result += [(struct, stem + suffix)
                   for struct, suffix in zip(loss_structs(row), suffixes)]
    return [(k, struct, name) for k, (struct, name) in enumerate(result)]


PASS_TAIL = ("mode, n, x, x_step, t, t_step, loss_out, loss_step, grad_out, grad_step, "
             "hess_out, hess_step, grad_scale")


TEMPLATES = ("src/kernels/loss_points.pxi.tp", "src/kernels/loss_runs.pxi.tp",
             "src/kernels/grad_hess.pxi.tp", "src/kernels/entry_points.pxi.tp",
             "src/kernels/capi_functions.pxi.tp", "src/smoothl1/_smoothl1.pxd.tp",
             "src/smoothl1/kernels.pxd.tp", "src/smoothl1/smoothl1_functions.h.tp")


def render(template_path):
    template = Tempita.Template(template_path.read_text(encoding="utf-8"),
                                name=str(template_path))
    all_functions = functions()
    return template.substitute(functions=all_functions, families=families(all_functions),
                               losses=LOSSES, operations=OPERATIONS, dtypes=DTYPES,
                               table=TABLE_OF_LOSSES, branch=branch, call=point_call,
                               condition=condition, c_rows=c_rows, c_call=c_call,
                               valid=valid_parameter, kinds=params_kinds,
                               pass_tail=PASS_TAIL)


def generate(root=ROOT):
    """Write every template's output next to it; returns the paths rewritten."""
    written = []
    for name in TEMPLATES:
        template_path = root / name
        output = template_path.with_suffix("")    # drops ".tp"
        text = render(template_path)
        if not output.exists() or output.read_text(encoding="utf-8") != text:
            output.write_text(text, encoding="utf-8")
            written.append(output)
    return written


if __name__ == "__main__":
    for path in generate():
        print(f"generate_kernels: wrote {path.relative_to(ROOT)}")
