ALTER TABLE `outbound_jobs` ADD `retry_from` integer;--> statement-breakpoint
ALTER TABLE `planfix_outbox` ADD `retry_from` integer;--> statement-breakpoint
-- Items the previous release marked failed (a 400/401 from Planfix) were never sent again: park them, so they are listed and re-sendable.
UPDATE `planfix_outbox` SET `state` = 'parked' WHERE `state` = 'failed';
