CREATE INDEX `outbound_jobs_seed` ON `outbound_jobs` (`account_id`,`random_seed`);
