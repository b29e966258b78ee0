"""One projector pass over an item's several stream records (a busy order: INSERT, then MODIFYs)
writes the row from the newest record, and a replay of the whole stream ends in the same row."""

import sqlite3

from tests.integration.ops.ledger_plant import new_symbol, run_manage


def _row(db, order_id):
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT status, filled_qty FROM ops_projectedorder WHERE order_id=?",
                            (order_id,)).fetchall()


def test_newest_record_of_a_batch_wins_and_a_replay_agrees(ops_stack, planter, tmp_path):
    db = tmp_path / "projection.sqlite3"
    env = dict(ops_stack.env, TULIP_SQLITE_PATH=str(db))
    assert run_manage(ops_stack, "migrate", "--noinput", env=env).returncode == 0
    order_id = planter.order(new_symbol(), "BUY", 10, "OPEN")
    key = {"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": f"ORDER#{order_id}"}}
    for status, filled in (("PARTIALLY_FILLED", 3), ("PARTIALLY_FILLED", 7), ("FILLED", 10)):
        planter.ddb.update_item(
            TableName=ops_stack.env["ORDERS_TABLE"], Key=key,
            UpdateExpression="SET #s = :s, filledQty = :f", ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": status}, ":f": {"N": str(filled)}})

    first = run_manage(ops_stack, "project_streams", "--once", env=env)
    assert first.returncode == 0, first.stderr
    assert _row(db, order_id) == [("FILLED", 10)]

    with sqlite3.connect(db) as conn:  # checkpoints lost: every record of the stream again
        conn.execute("DELETE FROM ops_streamcheckpoint")
    assert run_manage(ops_stack, "project_streams", "--once", env=env).returncode == 0
    assert _row(db, order_id) == [("FILLED", 10)]
