"""TF Serving warm-up records: `assets.extra/tf_serving_warmup_requests` in every SavedModel.

TF Serving replays this file's requests when it loads a version, before the version
serves, so the first real request does not pay for graph tracing and kernel setup.
The file is a TFRecord of `tensorflow.serving.PredictionLog` protos, one `predict_log`
per signature, made from the export's verification inputs (at most `WARMUP_ROWS`
rows, all of them under `--static-batch`).

The four messages involved are encoded here by hand (protobuf wire format) rather
than with `tensorflow-serving-api`: every export writes the file, and that package
pins TensorFlow to its own release and pulls in gRPC for four stable fields. The
tests decode the file with `tensorflow_serving.apis.prediction_log_pb2` (the `test`
extra) and run each record through the loaded SavedModel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
WARMUP_ROWS = 8
# Field numbers in tensorflow_serving/apis/{prediction_log,predict,model}.proto.
_PREDICTION_LOG_PREDICT_LOG = 6
_PREDICT_LOG_REQUEST = 1
_REQUEST_MODEL_SPEC, _REQUEST_INPUTS = 1, 2
_MODEL_SPEC_NAME, _MODEL_SPEC_SIGNATURE_NAME = 1, 3
_MAP_KEY, _MAP_VALUE = 1, 2


def write_warmup(saved: Path, name: str, checks: Mapping[str, dict],
                 static_batch: int | None) -> Path:
    """Write one PredictionLog per signature of `checks` (its verification inputs)."""
    import tensorflow as tf

    path = Path(saved) / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = static_batch or WARMUP_ROWS
    with tf.io.TFRecordWriter(str(path)) as writer:
        for sig, check in checks.items():
            inputs = check["inputs"] if isinstance(check["inputs"], dict) else {
                check["input_name"]: check["inputs"]}
            tensors = {key: tf.make_tensor_proto(_as_tensor(value[:rows])).SerializeToString()
                       for key, value in inputs.items()}
            writer.write(prediction_log(name, sig, tensors))
    return path


def _as_tensor(values) -> np.ndarray:
    values = np.asarray(values)
    return values.astype(object) if values.dtype.kind == "U" else values  # tf.string


def prediction_log(model_name: str, signature: str, tensors: Mapping[str, bytes]) -> bytes:
    """A serialized PredictionLog{predict_log{request{model_spec, inputs}}}; `tensors` are
    serialized TensorProtos by input name."""
    spec = (_field(_MODEL_SPEC_NAME, model_name.encode())
            + _field(_MODEL_SPEC_SIGNATURE_NAME, signature.encode()))
    request = _field(_REQUEST_MODEL_SPEC, spec) + b"".join(
        _field(_REQUEST_INPUTS, _field(_MAP_KEY, key.encode()) + _field(_MAP_VALUE, value))
        for key, value in tensors.items())
    return _field(_PREDICTION_LOG_PREDICT_LOG, _field(_PREDICT_LOG_REQUEST, request))


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2): tag, length, bytes."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def read_warmup(saved) -> dict[str, dict[str, np.ndarray]]:
    """The warm-up requests of the SavedModel folder `saved`: {signature: {input: array}},
    in file order (the inverse of `write_warmup`; what TF Serving replays)."""
    import tensorflow as tf
    from tensorflow.core.framework.tensor_pb2 import TensorProto

    requests = {}
    for record in tf.data.TFRecordDataset(str(Path(saved) / WARMUP_FILE)).as_numpy_iterator():
        predict_log = _fields(_fields(record)[_PREDICTION_LOG_PREDICT_LOG][0])
        request = _fields(predict_log[_PREDICT_LOG_REQUEST][0])
        signature = _fields(request[_REQUEST_MODEL_SPEC][0])[_MODEL_SPEC_SIGNATURE_NAME][0]
        inputs = {}
        for entry in request.get(_REQUEST_INPUTS, []):
            entry = _fields(entry)
            tensor = tf.make_ndarray(TensorProto.FromString(entry[_MAP_VALUE][0]))
            inputs[entry[_MAP_KEY][0].decode()] = tensor
        requests[signature.decode()] = inputs
    return requests


def _fields(message: bytes) -> dict[int, list[bytes]]:
    """The length-delimited fields of a serialized message, by field number (all the
    fields these four messages use are length-delimited)."""
    fields, at = {}, 0
    while at < len(message):
        tag, at = _read_varint(message, at)
        if tag & 7 != 2:
            raise ValueError(f"Unexpected wire type {tag & 7} in a warm-up record.")
        length, at = _read_varint(message, at)
        fields.setdefault(tag >> 3, []).append(message[at:at + length])
        at += length
    return fields


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at
