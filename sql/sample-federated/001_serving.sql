-- The serving schema with its first table and a few sample rows, the reports schema the load fills later, and
-- etl_loader: the user the nightly load connects as (no password: it connects with its IAM identity, through
-- GetClusterCredentials or the Data API). The access model's default privileges decide who may read the tables
-- etl_loader creates later.
CREATE SCHEMA IF NOT EXISTS serving;
CREATE SCHEMA IF NOT EXISTS reports;
CREATE TABLE IF NOT EXISTS serving.daily_revenue (day DATE, region VARCHAR(16), revenue DECIMAL(12, 2));
INSERT INTO serving.daily_revenue VALUES ('2026-12-01', 'EU', 1200.50), ('2026-12-01', 'US', 2300.00),
  ('2026-12-02', 'EU', 980.25);
CREATE USER etl_loader PASSWORD DISABLE;
GRANT USAGE, CREATE ON SCHEMA serving TO etl_loader;
GRANT USAGE, CREATE ON SCHEMA reports TO etl_loader;
