-- Raised by the one-statement event write when a job's batch reaches the database before
-- an earlier batch of the same job is stored: the statement (rows included) is rolled
-- back, so readers never see a gap. Plain SQL cannot raise an error, hence a function.
CREATE FUNCTION job_events_out_of_order() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'an earlier batch of the same job is not stored yet' USING ERRCODE = 'VO001';
END
$$;
