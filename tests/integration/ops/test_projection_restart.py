"""The projector fills Django's database from both tables' streams, and a restart resumes from its
stored checkpoint: re-running applies nothing twice, later changes (a MODIFY) land, no duplicates."""

import sqlite3

from tests.integration.ops.ledger_plant import consistent_ledger, new_symbol, run_manage


def _rows(db, sql, *args):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def test_projection_survives_restart_without_duplicates(ops_stack, planter, tmp_path):
    db = tmp_path / "projection.sqlite3"
    env = dict(ops_stack.env, TULIP_SQLITE_PATH=str(db))  # a projection of its own
    assert run_manage(ops_stack, "migrate", "--noinput", env=env).returncode == 0
    symbol = new_symbol()
    ledger = consistent_ledger(planter, symbol)

    first = run_manage(ops_stack, "project_streams", "--once", env=env)
    assert first.returncode == 0, first.stderr
    orders = _rows(db, "SELECT order_id, status, filled_qty FROM ops_projectedorder WHERE symbol=?",
                   symbol)
    assert sorted(orders) == sorted([(ledger.sell, "PARTIALLY_FILLED", 4),
                                     (ledger.buy, "FILLED", 4)])
    assert _rows(db, "SELECT trade_id FROM ops_projectedtrade WHERE symbol=?", symbol) == [
        (ledger.trade,)]
    checkpoints = _rows(db, "SELECT shard_id, sequence_number FROM ops_streamcheckpoint")
    assert checkpoints and all(seq for _, seq in checkpoints)

    # "Restart": a new process, nothing new in the streams -> nothing re-applied.
    again = run_manage(ops_stack, "project_streams", "--once", env=env)
    assert "projected 0 of 0 records" in again.stdout, again.stdout

    # A change after the restart arrives as a MODIFY and updates the same row.
    planter.ddb.update_item(
        TableName=ops_stack.env["ORDERS_TABLE"],
        Key={"pk": {"S": f"ORDER#{ledger.sell}"}, "sk": {"S": f"ORDER#{ledger.sell}"}},
        UpdateExpression="SET #s = :c", ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":c": {"S": "CANCELLED"}})
    third = run_manage(ops_stack, "project_streams", "--once", env=env)
    assert third.returncode == 0
    assert _rows(db, "SELECT status FROM ops_projectedorder WHERE order_id=?", ledger.sell) == [
        ("CANCELLED",)]
    assert _rows(db, "SELECT COUNT(*) FROM ops_projectedorder WHERE symbol=?", symbol) == [(2,)]
    assert _rows(db, "SELECT COUNT(*) FROM ops_projectedtrade WHERE symbol=?", symbol) == [(1,)]

    # From scratch (checkpoints lost): replaying the whole stream is still idempotent.
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM ops_streamcheckpoint")
    assert run_manage(ops_stack, "project_streams", "--once", env=env).returncode == 0
    assert _rows(db, "SELECT status FROM ops_projectedorder WHERE order_id=?", ledger.sell) == [
        ("CANCELLED",)]
    assert _rows(db, "SELECT COUNT(*) FROM ops_projectedorder WHERE symbol=?", symbol) == [(2,)]
